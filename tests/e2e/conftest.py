import itertools

import pytest

from devtools.dev_provider import DevProviderSettings, create_dev_provider, dev_provider_profile
from tests.dev_oidc import dev_oidc_provider, require_dev_oidc
from tests.e2e.site import Site, served_app
from tests.servers import serving

_database_names = (f"e2e_{n}" for n in itertools.count(1))


@pytest.fixture(scope="module")
def op():
    """The dev OpenID provider, asking a person to approve each login."""
    with serving(lambda base: create_dev_provider(DevProviderSettings(base))) as base:
        yield base


@pytest.fixture(scope="module")
def oidc():
    """panva's oidc-provider, the dev OIDC provider, started by the tests."""
    require_dev_oidc()
    with dev_oidc_provider() as issuer:
        yield issuer


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'site.sqlite'}"
    return request.getfixturevalue("postgres").create_database(next(_database_names))


@pytest.fixture
def site_config(op, database_url, tmp_path):
    return {
        "instance_path": str(tmp_path / "instance"),
        "database_url": database_url,
        "secret_key": "e2e-secret-key",
        # The dev provider vouches for emails here, so that linking and takeover can be shown;
        # the generic OpenID login through the same provider is not trusted for email.
        "providers": [
            {"key": "openid", "name": "OpenID"},
            {**dev_provider_profile(op), "trusted_for_email": True},
        ],
    }


@pytest.fixture
def site(site_config, op):
    with served_app(site_config) as (url, app):
        yield Site(url, app, op)
