from devtools.dev import cli

cli(prog_name="python -m devtools")
