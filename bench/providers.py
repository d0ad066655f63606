"""`make bench`'s `providers` section: a sign-in waits on every request the server makes to
the provider. A relay (devtools/relay.py) in front of each provider makes each of the
server's requests wait DELAY seconds, and the first on a new connection as long again (its
TCP handshake), as a provider across a network does; it counts them. One browser signs in
after another, so the time per sign-in is what a person waits: open /index, the login page,
the provider (approving at once), the return, /index, log out.

Measured: this app's OpenID 2.0 fixed provider button, typed identifier (new and returning
people), OpenID Connect (panva's dev provider, when Node.js is there), GitHub (the dev
GitHub: the code exchange, /user and /user/emails), and the tutorial's app by typed
identifier, with the same relay and provider, alternating each round.
"""

import logging
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from bench.clients import run_logins
from bench.harness import Bench, Served
from devtools.dev_github import create_dev_github, dev_github_profile
from devtools.dev_oidc import DevOidcUnavailable, served_dev_oidc
from devtools.dev_provider import DevProviderSettings, create_dev_provider
from devtools.relay import Relay, relaying
from devtools.servers import free_port
from devtools.serving import served

DELAY = float(os.environ.get("BENCH_PROVIDER_DELAY", "0.05"))
SIGN_INS = int(os.environ.get("BENCH_PROVIDER_SIGN_INS", "10"))
TABLE = f"Provider round trips ({DELAY * 1000:.0f} ms a request, one browser, same run)"
OIDC_NAME = "oidc-person"
GITHUB_LOGIN = "github-person"


@dataclass
class Relayed:
    url: str
    relay: Relay


@dataclass
class RelayedProviders:
    openid: Relayed
    github: Relayed
    oidc: Relayed | None


@contextmanager
def relayed_providers() -> Iterator[RelayedProviders]:
    """The dev OpenID provider and the dev GitHub (both auto-approving) and, if it can run,
    the dev OIDC provider, each behind a delaying relay and calling itself by its URL."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the dev provider's access log
    with ExitStack() as stack:
        backend = f"http://127.0.0.1:{free_port()}"
        openid = Relay(backend, DELAY)
        openid_url = stack.enter_context(relaying(openid))
        settings = DevProviderSettings(openid_url, auto_approve=True)
        stack.enter_context(served(create_dev_provider(settings), backend))
        github_backend = f"http://127.0.0.1:{free_port()}"
        github = Relay(github_backend, DELAY)
        github_url = stack.enter_context(relaying(github))
        dev_github = create_dev_github(github_url, auto_approve=GITHUB_LOGIN)
        stack.enter_context(served(dev_github, github_backend))
        relayed = RelayedProviders(Relayed(openid_url, openid), Relayed(github_url, github), None)
        oidc_port = free_port()
        oidc = Relay(f"http://127.0.0.1:{oidc_port}", DELAY)
        oidc_url = stack.enter_context(relaying(oidc))
        environment = {"PORT": str(oidc_port), "LOOPBACK_REDIRECTS": "1", "AUTO_APPROVE": OIDC_NAME}
        try:
            stack.enter_context(served_dev_oidc(oidc_url, [], environment=environment))
        except DevOidcUnavailable as why:
            print(f"bench: providers: OIDC skipped: {why}")
            yield relayed
            return
        relayed.oidc = Relayed(oidc_url, oidc)
        yield relayed


def providers_toml(openid: str, github: str, oidc: str | None) -> str:
    entries = f"""
[[providers]]
key = "openid"
name = "OpenID"

[[providers]]
key = "dev"
name = "Dev OpenID"
op_identifier = "{openid}/"
claimed_id_prefix = "{openid}/id/"
"""
    entry = dev_github_profile(github)
    entries += f"""
[[providers]]
key = "{entry["key"]}"
protocol = "github"
name = "{entry["name"]}"
github_url = "{entry["github_url"]}"
api_url = "{entry["api_url"]}"
client_id = "{entry["client_id"]}"
client_secret = "{entry["client_secret"]}"
"""
    if oidc:
        entries += f"""
[[providers]]
key = "dev-oidc"
protocol = "oidc"
name = "Dev OIDC"
issuer = "{oidc}"
client_id = "microblog"
client_secret = "dev-oidc-secret"
"""
    return entries


def sign_ins(
    site: str, provider: Relayed, names: list[str], button: str, kind: str
) -> tuple[float, float, float]:
    """Seconds per sign-in, requests to the provider and new connections per sign-in."""
    relay = provider.relay
    relay.reset()
    wall = run_logins(site, provider.url, names, button, 1, kind)
    count = len(names)
    return wall / count, relay.total / count, relay.connections / count


def serve_ours(bench: Bench, entries: str) -> Served:
    """This app under bench/harness.py's gunicorn command, with these `[[providers]]`."""
    config = bench.workdir / "relayed-providers.toml"
    config.write_text(entries)
    database_url = bench.database("sqlite")
    return bench.serve_module(
        "entrypoints.app:create_app()",
        "relayed",
        lambda port: bench.app_env(database_url, port) | {"MICROBLOG_CONFIG": str(config)},
    )


def measure_providers(bench: Bench, ratios: str, repeats: int) -> None:
    """Figures into `bench.figure(TABLE, row)`, the ratios into `bench.figure(ratios, row)`."""
    with relayed_providers() as relayed:
        openid, github, oidc = relayed.openid, relayed.github, relayed.oidc
        ours = serve_ours(bench, providers_toml(openid.url, github.url, oidc and oidc.url))
        tutorial = bench.serve_tutorial("tutorial-relayed")
        runs = {
            "this app, OpenID fixed button (returning person)": (ours, openid, "dev", "microblog"),
            "this app, OpenID typed identifier, new person": (ours, openid, "openid", "microblog"),
            "the tutorial's app, OpenID typed identifier, new person": (
                tutorial, openid, "openid", "tutorial"
            ),
        }  # fmt: skip
        if oidc:
            runs["this app, OIDC (dev OIDC provider)"] = (ours, oidc, "dev-oidc", "microblog")
        github_row = "this app, GitHub (dev GitHub, returning person)"
        runs[github_row] = (ours, github, dev_github_profile(github.url)["key"], "microblog")
        for site, provider, button, kind in runs.values():  # warm: discovery, association
            run_logins(site.url, provider.url, bench.names("warm-", 3), button, 1, kind)
        for round_ in range(repeats):
            order = list(runs) if round_ % 2 == 0 else list(reversed(runs))
            waited: dict[str, float] = {}
            for name in order:
                site, provider, button, kind = runs[name]
                people = bench.names("relayed-", SIGN_INS)
                rows = [name]
                if "new person" in name:  # the same people again: returning
                    rows.append(name.replace("new person", "returning person"))
                for row in rows:
                    wait, requests, connections = sign_ins(site.url, provider, people, button, kind)
                    waited[row] = wait
                    bench.figure(TABLE, f"{row}: ms per sign-in").samples.append(wait * 1000)
                    figure = bench.figure(TABLE, f"{row}: requests to the provider per sign-in")
                    figure.samples.append(requests)
                    figure = bench.figure(TABLE, f"{row}: new connections per sign-in")
                    figure.samples.append(connections)
            for who in ("new person", "returning person"):
                ours_, theirs = (
                    waited[f"{app}, OpenID typed identifier, {who}"]
                    for app in ("this app", "the tutorial's app")
                )
                row = f"sign-in time, {DELAY * 1000:.0f} ms a provider request, typed OpenID, {who}"
                bench.figure(ratios, row).samples.append(ours_ / theirs)
        ours.stop()
        tutorial.stop()
