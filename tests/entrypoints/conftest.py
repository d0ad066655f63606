import re
from typing import Literal
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.sql.migrate import upgrade_database
from entrypoints.app import create_app
from entrypoints.protocols import PROTOCOLS, ProtocolAdapter, ProviderSettings
from tests.fakes import FakeIdentityProvider

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class FakeProviderSettings(ProviderSettings):
    """A `[[providers]]` entry of the fake protocol: one more field than every entry has."""

    protocol: Literal["fake"] = "fake"
    namespace: str = "https://fake.example"


def build_fake_provider(settings: FakeProviderSettings, parts) -> FakeIdentityProvider:
    return FakeIdentityProvider(settings.policy(), settings.display_name, settings.namespace)


# The real registry plus a protocol of the tests' own; nothing else knows about it.
FAKE_PROTOCOL = ProtocolAdapter(FakeProviderSettings, build_fake_provider)
WITH_FAKE_PROTOCOL = {**PROTOCOLS, "fake": FAKE_PROTOCOL}
RATE_LIMITS = (
    "rate_limit_login",
    "rate_limit_identifier",
    "rate_limit_callback",
    "rate_limit_account",
    "rate_limit_identifier_total",
    "rate_limit_parked",
)
FAKE_ENTRY = {"protocol": "fake", "key": "fake", "name": "Fake", "trusted_for_email": True}


def make_app(tmp_path, **settings):
    config = {
        "instance_path": str(tmp_path / "instance"),
        "database_url": f"sqlite:///{tmp_path / 'app.sqlite'}",
        "providers": [FAKE_ENTRY],
        # Property tests sign in hundreds of times a minute; tests of the limits set them.
        **dict.fromkeys(RATE_LIMITS, "off"),
    }
    return create_app(config | settings, protocols=WITH_FAKE_PROTOCOL)


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path)
    services = app.extensions["container"]
    upgrade_database(services.engine())
    yield app
    services.shutdown_resources()


@pytest.fixture
def fake_provider(app):
    return app.extensions["container"].identity_providers()["fake"]


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(client, path="/login"):
    return CSRF_FIELD.search(client.get(path).get_data(as_text=True)).group(1)


def start_login(client, next_path=None, **form):
    data = {"provider": "fake", "csrf_token": csrf_token(client)} | form
    if next_path is not None:
        data["next"] = next_path
    return client.post("/login", data=data)


def state_of(started) -> str:
    """The login's state, as the provider sees it in the URL it was sent to."""
    return parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]


def log_in(client, subject="https://id.example/alice", next_path=None, remember=False, **answer):
    form = {"identifier": subject} | ({"remember_me": "y"} if remember else {})
    started = start_login(client, next_path=next_path, **form)
    assert started.status_code == 303, started.get_data(as_text=True)
    return client.get("/login/return/fake", query_string={"state": state_of(started), **answer})
