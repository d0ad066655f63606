"""`python -m bench.page_floors [rounds] [pages]`: the CPU of a signed-in index page in this
process (no server, thread CPU) for this app as shipped (its rate limits on, of which the
index page has none), the tutorial's app, the signed-in floor and the template floor
(bench/baseline_app.py), PAGES_IN_TURN pages each in turn (a worker serving one app: its
caches warm), in an order drawn again each time; each round's medians over the tutorial's.

Served, every request also costs what gunicorn and the load generator spend on it; here, what
Flask's test client spends. Both are the same for every app and pull the ratios towards 1,
each in its own measure: these ratios are a second reading of the served ones, made without
the served noise."""

import gc
import logging
import random
import sys
import tempfile

from bench.baseline_app import create_signed_in_floor_app, create_template_floor_app
from bench.speedups import SHIPPED, Variant, build, page_medians_in_turn, pages, spread
from bench.steps import make_app, signed_in_reader
from devtools.dev_provider import DevProviderSettings, create_dev_provider
from devtools.servers import free_port
from devtools.serving import served

ROUNDS = 5
PAGES = 300
WARM_UP_PAGES = 300
PAGES_IN_TURN = 50
THIS_APP = "this app as shipped"
TUTORIAL = "the tutorial's app"
SIGNED_IN_FLOOR = "the signed-in floor"
TEMPLATE_FLOOR = "the template floor"


def variants(op: str) -> list[Variant]:
    """This app, the tutorial's, and the two floors, each with a signed-in reader."""
    ours = build(SHIPPED, None, op)
    ours.name = THIS_APP
    tutorial = Variant(TUTORIAL, make_app("tutorial", tempfile.mkdtemp()), kind="tutorial")
    tutorial.reader = signed_in_reader(tutorial.app, "tutorial", op)
    pages(tutorial, WARM_UP_PAGES)
    return [ours, tutorial, *floors(ours)]


def floors(ours: Variant) -> list[Variant]:
    """The two floors, warmed up; the signed-in floor reads this app's database and its
    reader's cookie."""
    database_url = ours.app.extensions["container"].engine().url.render_as_string(False)
    floor = Variant(SIGNED_IN_FLOOR, create_signed_in_floor_app(database_url, ours.app.secret_key))
    floor.reader = floor.app.test_client()
    cookie = ours.reader.get_cookie(ours.app.config["SESSION_COOKIE_NAME"])
    floor.reader.set_cookie(floor.app.config["SESSION_COOKIE_NAME"], cookie.value)
    template = Variant(TEMPLATE_FLOOR, create_template_floor_app())
    template.reader = template.app.test_client()
    for variant in (floor, template):
        pages(variant, WARM_UP_PAGES)
    return [floor, template]


def compare(rounds: int, page_count: int) -> dict[str, list[float]]:
    """Per variant other than the tutorial's, each round's median page CPU over the
    tutorial's."""
    op = f"http://127.0.0.1:{free_port()}"
    with served(create_dev_provider(DevProviderSettings(op, auto_approve=True)), op):
        built = variants(op)
    gc.collect()
    gc.freeze()
    order = random.Random(0)
    ratios: dict[str, list[float]] = {v.name: [] for v in built if v.name != TUTORIAL}
    for _ in range(rounds):
        medians = page_medians_in_turn(built, page_count, PAGES_IN_TURN, order)
        for name in ratios:
            ratios[name].append(medians[name] / medians[TUTORIAL])
    return ratios


def main() -> None:
    logging.disable(logging.INFO)
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS
    page_count = int(sys.argv[2]) if len(sys.argv) > 2 else PAGES
    print(f"Signed-in index page CPU in process / the tutorial's, {rounds} rounds:")
    for name, ratios in compare(rounds, page_count).items():
        print(f"  {name}: {spread(ratios)}")


if __name__ == "__main__":
    main()
