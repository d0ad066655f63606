"""What the unit tests of the application services share: an audit trail, where actions come
from, and signing in through the use case (which provisions the account the first time)."""

import pytest

from domain.model import Device, ProviderPolicy, VerifiedIdentity
from domain.provisioning import SignedIn, complete_sign_in
from tests.fakes import FakeAuditTrail

ORIGIN = Device("TestBrowser/1.0", "198.51.100.7")


@pytest.fixture
def audit() -> FakeAuditTrail:
    return FakeAuditTrail()


@pytest.fixture
def sign_in(uow, sessions, clock, tokens, session_policy):
    """Signs `subject` in through provider `provider`, creating the account the first time."""

    def sign_in(
        subject: str, nickname: str | None = None, provider: str = "dev", namespace: str = "openid"
    ) -> SignedIn:
        signed_in = complete_sign_in(
            VerifiedIdentity(ProviderPolicy(provider), namespace, subject, nickname),
            remember=False,
            uow=uow,
            sessions=sessions,
            clock=clock,
            tokens=tokens,
            policy=session_policy,
        )
        assert isinstance(signed_in, SignedIn)
        return signed_in

    return sign_in
