"""bench.page_floors measures signed-in pages: each of its apps serves one to its reader, and
the signed-in floor serves this app's reader, by this app's cookie, from this app's
database."""

from bench.page_floors import SIGNED_IN_FLOOR, THIS_APP, variants
from devtools.dev_provider import DevProviderSettings, create_dev_provider
from devtools.servers import free_port
from devtools.serving import served


def test_every_app_serves_its_reader_a_signed_in_index():
    op = f"http://127.0.0.1:{free_port()}"
    with served(create_dev_provider(DevProviderSettings(op, auto_approve=True)), op):
        built = {v.name: v for v in variants(op)}
    pages = {name: v.reader.get("/index") for name, v in built.items()}
    assert all(page.status_code == 200 for page in pages.values()), pages
    assert all(b"<h1>Hi, " in page.data for page in pages.values())
    ours = pages[THIS_APP].get_data(as_text=True)
    floor = pages[SIGNED_IN_FLOOR].get_data(as_text=True)
    heading = ours[ours.index("<h1>") : ours.index("</h1>")]
    assert heading == floor[floor.index("<h1>") : floor.index("</h1>")]
