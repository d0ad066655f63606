"""What domain errors tell the person, in their language. The domain and the adapters keep
English messages as stable keys (the domain imports only the standard library); they are
listed here so that `make translations` extracts them, and translated when shown.
tests/entrypoints/test_translations.py checks that every message raised is listed."""

from domain.errors import DomainError
from entrypoints.web.i18n import _


def N_(text: str) -> str:
    """Marks a text for extraction: it is translated where it is shown."""
    return text


KNOWN_MESSAGES = (
    # domain/errors.py
    N_("Something went wrong while signing you in."),
    N_("That input is not valid."),
    N_("That identifier is not valid for this provider."),
    N_("That sign-in provider is not available."),
    N_("Your sign-in attempt expired or was already used. Please sign in again."),
    N_("Your provider's answer is too long for this site."),
    N_("This sign-in is not allowed."),
    N_("That identity is already connected to another account. Nothing was changed."),
    N_("This is your only linked identity: connect another one before you disconnect it."),
    N_("That nickname is taken. Please choose another."),
    N_("That nickname looks like another user's nickname. Please choose another."),
    N_(
        "That nickname mixes letters from different alphabets in one word (such as Latin and"
        " Cyrillic). Please write each word in one alphabet."
    ),
    N_("That is not one of your linked identities or devices."),
    N_(
        "There is no identity waiting here to be connected to this account, or its 10 minutes"
        " are over. Nothing was connected."
    ),
    N_("Please sign in again to change your linked identities."),
    N_("Your provider did not share an email address, and this site needs one."),
    N_("This account is disabled."),
    N_("Sign-in was cancelled."),
    N_("That answer belongs to another sign-in than this browser's. Please sign in again."),
    N_("Your provider's answer could not be verified. Please try again."),
    N_("The sign-in provider could not be reached. Please try again later."),
    N_("The site is having trouble with its database. Please try again later."),
    N_("Too many people are signing in at once. Please try again."),
    N_("There is no such user."),
    # domain/provisioning.py
    N_("A nickname needs at least one visible character."),
    # adapters/openid
    N_("Please enter your OpenID identifier."),
    N_("That identifier is too long (at most 2048 characters)."),
    N_("An identifier cannot contain spaces or control characters."),
    N_("XRI identifiers (=name, @org) are not supported."),
    N_("That identifier points to an address this site may not reach."),
    N_("No OpenID provider was found for that identifier."),
    N_("That provider may not vouch for this identifier."),
    # adapters/oauth2 and adapters/oidc
    N_("Your provider needs you to sign in there first."),
    N_("The sign-in provider's configuration does not match this site's."),
    N_("The sign-in provider's configuration is incomplete."),
    # adapters/redis
    N_("The site cannot reach its session store. Please try again in a moment."),
    # web/account.py
    N_("Choose whether to connect this identity."),
)


def error_message(error: DomainError) -> str:
    return _(error.message)
