"""The bench's login clients sign each person in from an address of their own, so that the
site they measure keeps its rate limits on, as `make serve` has them: limits count per
address."""

import pytest

from bench.clients import person_address, run_logins
from bench.speedups import bench_app
from devtools.dev_provider import DevProviderSettings, create_dev_provider
from devtools.servers import free_port
from devtools.serving import served

PEOPLE = [f"person-{n}" for n in range(3)]


@pytest.fixture
def site_and_provider(tmp_path):
    """A site that lets two login starts a minute through from one address."""
    op, site = (f"http://127.0.0.1:{free_port()}" for _ in range(2))
    app = bench_app(str(tmp_path), base_url=site, rate_limit_login="2/minute")
    provider = create_dev_provider(DevProviderSettings(op, auto_approve=True))
    with served(provider, op), served(app, site):
        yield site, op


def test_people_from_addresses_of_their_own_count_once_each(site_and_provider):
    site, op = site_and_provider
    run_logins(site, op, PEOPLE, "openid", 1, own_addresses=True)  # raises on a refusal


def test_people_from_one_address_run_into_its_limit(site_and_provider):
    site, op = site_and_provider
    with pytest.raises(RuntimeError, match="person-2 failed: 429"):
        run_logins(site, op, PEOPLE, "openid", 1)


def test_every_person_has_a_loopback_address_of_their_own():
    addresses = {person_address(f"person-{n}") for n in range(1000)}
    assert len(addresses) == 1000
    assert all(address.startswith("127.") and not address.endswith(".0") for address in addresses)
