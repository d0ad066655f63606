"""`python -m bench.features [rounds] [logins]`: what the site's own features cost a sign-in,
and how near the tutorial's a sign-in would come without them. In process, as bench.speedups
measures: the CPU of a full sign-in (bench.steps: the anonymous index, the login page, the
begin, the return, the signed-in index, logout, the login page) of the app as shipped, of the
app without each feature, without all of them, and of the tutorial's app (its own login and
logout), one sign-in each in turn, in an order drawn again each time.

Each round's figure is a median; each variant's is divided by the tutorial's and by the
shipped app's of the same round, so the machine's drift cancels. Rate limits are on (with
limits no bench reaches), as in production. A feature switched off here is one the site
keeps: this measures what it costs, it does not propose to drop it."""

import gc
import random
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from typing import Any

from dependency_injector import providers

import entrypoints.app
from bench.speedups import SHIPPED, Switch, Variant, build, patched, sign_ins, spread, unchanged
from bench.steps import make_app
from devtools.dev_provider import DevProviderSettings, create_dev_provider
from devtools.servers import free_port
from devtools.serving import served
from domain.model import AuditEvent
from entrypoints.web import metrics

ROUNDS = 5
LOGINS = 20
WARM_UP_LOGINS = 10
TUTORIAL = "the tutorial's app"
EVERYTHING = "all of the above"


class _NoTrail:
    def record(self, event: AuditEvent) -> None:
        pass

    def events(self, **_: Any) -> list[AuditEvent]:
        return []


def _without_audit_trail(app: Any) -> None:
    app.extensions["container"].audit_trail.override(providers.Object(_NoTrail()))


def _set_up_nothing(*_: Any, **__: Any) -> None:
    pass


def _no_headers(https: bool) -> Callable[[Any], Any]:
    return lambda response: response


FEATURES: dict[str, Switch] = {
    "rate limits (Flask-Limiter)": (
        lambda: patched(entrypoints.app, "set_up_rate_limits", _set_up_nothing),
        unchanged,
    ),
    "the audit trail (a row and a log line per event)": (nullcontext, _without_audit_trail),
    "request ids (logs.set_up_request_ids)": (
        lambda: patched(entrypoints.app, "set_up_request_ids", _set_up_nothing),
        unchanged,
    ),
    "security headers": (
        lambda: patched(entrypoints.app, "_security_headers", _no_headers),
        unchanged,
    ),
    "the sign-in duration metric (metrics.measure)": (
        lambda: patched(metrics, "measure", _set_up_nothing),
        unchanged,
    ),
}


@contextmanager
def _all_contexts() -> Iterator[None]:
    with ExitStack() as stack:
        for building, _ in FEATURES.values():
            stack.enter_context(building())
        yield


def _all_changes(app: Any) -> None:
    for _, change in FEATURES.values():
        change(app)


SWITCHES: dict[str, Switch] = FEATURES | {EVERYTHING: (_all_contexts, _all_changes)}


def tutorial(op: str) -> Variant:
    variant = Variant(
        TUTORIAL, make_app("tutorial", tempfile.mkdtemp(prefix="tutorial-")), kind="tutorial"
    )
    sign_ins(variant, op, "warm-tutorial-", WARM_UP_LOGINS)
    return variant


def compare(rounds: int, logins: int) -> list[Variant]:
    """The tutorial's app, the shipped app, then one variant per feature switched off, and
    one without all of them; per round, each variant's median CPU per sign-in."""
    op = f"http://127.0.0.1:{free_port()}"
    with served(create_dev_provider(DevProviderSettings(op, auto_approve=True)), op):
        variants = [tutorial(op), build(SHIPPED, None, op)]
        variants += [build(f"without {name}", switch, op) for name, switch in SWITCHES.items()]
        gc.collect()
        gc.freeze()
        order = random.Random(0)
        for r in range(rounds):
            spent: dict[str, list[float]] = {v.name: [] for v in variants}
            for n in range(logins):
                for v in order.sample(variants, len(variants)):
                    spent[v.name].extend(sign_ins(v, op, f"r{r}-{n}-", 1))
            for v in variants:
                v.logins.append(statistics.median(spent[v.name]))
    return variants


def samples(variants: list[Variant]) -> dict[str, list[float]]:
    """Per row, one figure a round: the CPU per sign-in of the tutorial's app and of the app
    as shipped, then each variant's over the tutorial's and over the shipped app's."""
    theirs, shipped = variants[0].logins, variants[1].logins
    out = {
        f"{TUTORIAL}: CPU per sign-in, us": theirs,
        f"{SHIPPED}: CPU per sign-in, us": shipped,
    }
    for v in variants[1:]:
        out[f"{v.name}: sign-in / the tutorial's"] = [
            m / t for m, t in zip(v.logins, theirs, strict=True)
        ]
    for v in variants[2:]:
        out[f"{v.name}: sign-in / as shipped"] = [
            m / s for m, s in zip(v.logins, shipped, strict=True)
        ]
    return out


def main() -> None:
    import logging

    logging.disable(logging.INFO)
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS
    logins = int(sys.argv[2]) if len(sys.argv) > 2 else LOGINS
    print(f"Features, {rounds} rounds of {logins} sign-ins a variant, in process:")
    for row, figures in samples(compare(rounds, logins)).items():
        print(f"  {row}: {spread(figures)}")


if __name__ == "__main__":
    main()
