"""Where a browser is, and where providers send it back: what the container needs of the
web layer without importing a blueprint."""

from flask import has_request_context, request

from domain.model import Device

# A provider's answers come back to RETURN_PATH + its key (auth.provider_return).
RETURN_PATH = "/login/return/"
# Where the browser comes back from signing out at a provider, and where a provider posts
# its logout notices (OpenID Connect RP-initiated and back-channel logout).
LOGOUT_RETURN_PATH = "/logout/return/"
BACKCHANNEL_PATH = "/logout/backchannel/"


def request_origin() -> Device:
    """The browser and address of the request being served; nothing outside one (the CLI)."""
    if not has_request_context():
        return Device()
    return Device(request.user_agent.string, request.remote_addr)
