"""bench.page_floors measures signed-in pages: each floor serves one, and the signed-in floor
serves this app's reader, by this app's cookie, from this app's database. (The tutorial's app
needs the bench's packages, which the tests do not install.)"""

from bench.page_floors import SIGNED_IN_FLOOR, floors
from bench.speedups import SHIPPED, build
from devtools.dev_provider import DevProviderSettings, create_dev_provider
from devtools.servers import free_port
from devtools.serving import served


def _heading(page: str) -> str:
    return page[page.index("<h1>") : page.index("</h1>")]


def test_the_floors_serve_this_apps_reader_a_signed_in_index():
    op = f"http://127.0.0.1:{free_port()}"
    with served(create_dev_provider(DevProviderSettings(op, auto_approve=True)), op):
        ours = build(SHIPPED, None, op)
    built = {v.name: v for v in floors(ours)}
    pages = {name: v.reader.get("/index") for name, v in built.items()}
    assert all(page.status_code == 200 for page in pages.values()), pages
    assert all(b"<h1>Hi, " in page.data for page in pages.values())
    ours_page = ours.reader.get("/index").get_data(as_text=True)
    assert _heading(ours_page) == _heading(pages[SIGNED_IN_FLOOR].get_data(as_text=True))
