class DomainError(Exception):
    """An error the person signing in can understand; `message` is safe to show them."""

    message = "Something went wrong while signing you in."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message


class InvalidInput(DomainError):
    message = "That input is not valid."


class InvalidIdentifier(InvalidInput):
    message = "That identifier is not valid for this provider."


class UnknownProvider(InvalidInput):
    message = "That sign-in provider is not available."


class SignInExpired(InvalidInput):
    message = "Your sign-in attempt expired or was already used. Please sign in again."


class ValueTooLong(InvalidInput):
    message = "Your provider's answer is too long for this site."


class SignInRefused(DomainError):
    message = "This sign-in is not allowed."


class IdentityBelongsToAnotherAccount(SignInRefused):
    message = "That identity is already connected to another account. Nothing was changed."


class LastIdentity(InvalidInput):
    message = "This is your only linked identity: connect another one before you disconnect it."


class NicknameTaken(InvalidInput):
    message = "That nickname is taken. Please choose another."


class NicknameLooksTaken(NicknameTaken):
    """Another user's nickname looks the same (UTS #39 confusables): "\u0430dmin" (Cyrillic
    a) for "admin"."""

    message = "That nickname looks like another user's nickname. Please choose another."


class NicknameMixesScripts(InvalidInput):
    """A word mixes letters of different scripts, the usual disguise of a look-alike."""

    message = (
        "That nickname mixes letters from different alphabets in one word "
        "(such as Latin and Cyrillic). Please write each word in one alphabet."
    )


class NotYours(InvalidInput):
    message = "That is not one of your linked identities or devices."


class NothingToConnect(InvalidInput):
    message = (
        "There is no identity waiting here to be connected to this account, or its 10 minutes"
        " are over. Nothing was connected."
    )


class RecentSignInRequired(DomainError):
    message = "Please sign in again to change your linked identities."


class EmailRequired(SignInRefused):
    message = "Your provider did not share an email address, and this site needs one."


class AccountDisabled(SignInRefused):
    message = "This account is disabled."


class SignInCancelled(DomainError):
    message = "Sign-in was cancelled."


class SignInMismatch(SignInExpired):
    """The provider's answer belongs to another login than the one this browser started."""

    message = "That answer belongs to another sign-in than this browser's. Please sign in again."


class SignInFailed(DomainError):
    message = "Your provider's answer could not be verified. Please try again."


class ProviderUnavailable(DomainError):
    message = "The sign-in provider could not be reached. Please try again later."


class StoreUnavailable(DomainError):
    message = "The site is having trouble with its database. Please try again later."


class Conflict(Exception):
    """Raised by a unit of work when a commit breaks a uniqueness rule (a concurrent writer won)."""


class TooManyConflicts(StoreUnavailable):
    message = "Too many people are signing in at once. Please try again."


class LogoutNoticeRefused(InvalidInput):
    """A provider's logout notice that the site does not act on; the message says why, to
    the provider's server."""

    message = "The logout notice was refused."


class UserNotFound(InvalidInput):
    message = "There is no such user."
