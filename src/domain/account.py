"""The account page: what a signed-in person does with their account."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from domain.audit import Recorder
from domain.errors import InvalidInput, NotYours
from domain.model import Session, User, hash_token
from domain.ports import Clock, IdentityProvider, Sessions, UnitOfWork
from domain.provisioning import disconnect_identity, rename_user
from domain.round_trips import ProviderChoice, provider_choices
from domain.sessions import require_recent_sign_in

# A locale identifier such as "zh_Hans" or "de".
MAX_LANGUAGE_LENGTH = 16


@dataclass(frozen=True)
class LinkedIdentity:
    provider_name: str
    namespace: str
    subject: str
    created_at: datetime | None
    last_used_at: datetime | None
    provider: str = ""  # the key of the provider that added it
    handle: str | None = None


@dataclass(frozen=True)
class AccountOverview:
    user: User
    identities: list[LinkedIdentity]
    devices: list[Session]  # newest first
    current_device: str  # the token hash of this browser's session
    choices: list[ProviderChoice]  # the providers another identity may be connected from


class Accounts:
    """What a signed-in person does on their account page."""

    def __init__(
        self,
        *,
        providers: Mapping[str, IdentityProvider],
        unit_of_work: Callable[[], UnitOfWork],
        writing_unit_of_work: Callable[[], UnitOfWork],
        sessions: Sessions,
        recorder: Recorder,
        clock: Clock,
        unrecorded_provider: str,
    ) -> None:
        self._providers = providers
        # The name shown for an identity linked before the provider that added it was recorded.
        self._unrecorded_provider = unrecorded_provider
        self._unit_of_work = unit_of_work
        self._writing_unit_of_work = writing_unit_of_work
        self._sessions = sessions
        self._audit = recorder
        self._clock = clock

    def overview(self, user_id: int, token: str) -> AccountOverview:
        uow = self._unit_of_work()
        with uow:
            user = uow.users.get(user_id)
            linked = uow.identities.of_user(user_id)
        if user is None:
            raise NotYours()
        now = self._clock.now()
        devices = [s for s in self._sessions.of_user(user_id) if not s.is_expired(now)]
        identities = [
            LinkedIdentity(
                self._name_of(i.provider),
                i.namespace,
                i.subject,
                i.created_at,
                i.last_used_at,
                i.provider,
                i.handle,
            )
            for i in linked
        ]
        return AccountOverview(
            user, identities, devices, hash_token(token), provider_choices(self._providers)
        )

    def rename(self, user_id: int, nickname: str) -> str:
        renamed = rename_user(self._writing_unit_of_work(), user_id, nickname)
        self._audit.record("nickname.changed", user_id)
        return renamed

    def disconnect(self, token: str, namespace: str, subject: str) -> str:
        """The provider name of the login removed; needs a recent sign-in."""
        session = require_recent_sign_in(token, sessions=self._sessions, clock=self._clock)
        uow = self._writing_unit_of_work()
        removed = disconnect_identity(uow, session.user_id, namespace, subject)
        self._audit.record("identity.disconnected", session.user_id, removed.provider)
        return self._name_of(removed.provider)

    def choose_language(self, user_id: int, language: str) -> None:
        """Keeps the language the person chose for pages (the web layer names it)."""
        if not language or len(language) > MAX_LANGUAGE_LENGTH:
            raise InvalidInput()
        uow = self._writing_unit_of_work()
        with uow:
            uow.users.set_language(user_id, language)
            uow.commit()

    def end_device(self, user_id: int, token_hash: str) -> None:
        session = self._sessions.get(token_hash)
        if session is None or session.user_id != user_id:
            raise NotYours()
        self._sessions.remove(token_hash)
        self._audit.record("device.ended", user_id)

    def end_other_devices(self, user_id: int, token: str) -> int:
        ended = self._sessions.remove_all_of_except(user_id, hash_token(token))
        self._audit.record("device.ended_others", user_id, detail=f"{ended} sessions")
        return ended

    def _name_of(self, provider_key: str) -> str:
        provider = self._providers.get(provider_key)
        return provider.name if provider else provider_key or self._unrecorded_provider
