import re

import pytest
from dependency_injector import providers

from adapters.sql.migrate import upgrade_database
from domain.model import ProviderPolicy
from entrypoints.app import create_app
from tests.fakes import FakeIdentityProvider

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture
def fake_provider():
    return FakeIdentityProvider(ProviderPolicy("fake", trusted_for_email=True))


@pytest.fixture
def app(tmp_path, fake_provider):
    app = create_app(
        {
            "instance_path": str(tmp_path / "instance"),
            "database_url": f"sqlite:///{tmp_path / 'app.sqlite'}",
            "providers": [{"key": "fake", "name": "Fake"}],
            "dev_provider_url": "",
        }
    )
    services = app.extensions["container"]
    upgrade_database(services.engine())
    services.identity_providers.override(providers.Object({"fake": fake_provider}))
    yield app
    services.shutdown_resources()


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


def log_in(client, subject="https://id.example/alice", next_path=None, remember=False, **answer):
    form = {"identifier": subject} | ({"remember_me": "y"} if remember else {})
    started = start_login(client, next_path=next_path, **form)
    assert started.status_code == 303, started.get_data(as_text=True)
    return client.get("/login/return", query_string=answer)
