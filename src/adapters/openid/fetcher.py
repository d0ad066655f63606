import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from openid import fetchers

from adapters.http.caching import ResponseCache
from adapters.http.client import HttpError, HttpResponse, SafeHttpClient


class SafeFetcher(fetchers.HTTPFetcher):  # type: ignore[misc]
    """python3-openid's HTTP client, made of the site's safe one (adapters.http).

    With a `cache`, a GET is answered from it while the provider's caching headers allow:
    python3-openid's only GETs are discoveries, so a fixed provider is not rediscovered at
    every sign-in, nor the claimed identifier of a person coming back. The key is the URL
    exactly as python3-openid asks for it (normalised) with every header sent.
    """

    def __init__(self, http: SafeHttpClient | None = None, cache: ResponseCache | None = None):
        self.http = http or SafeHttpClient()
        self.cache = cache

    def fetch(
        self, url: str, body: str | bytes | None = None, headers: dict[str, str] | None = None
    ) -> fetchers.HTTPResponse:
        sent = dict(headers or {})
        if body is not None:
            # python3-openid posts url-encoded forms and counts on the client to say so.
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        cache = self.cache if body is None else None
        key = (url, tuple(sorted(sent.items())))
        response = cache.get(key) if cache is not None else None
        if response is None:
            response = self._request(url, body, sent)
            if cache is not None:
                cache.keep(key, response)
        return fetchers.HTTPResponse(
            response.url, response.status, dict(response.headers), response.text()
        )

    def _request(self, url: str, body: str | bytes | None, sent: dict[str, str]) -> HttpResponse:
        try:
            return self.http.request(
                "POST" if body is not None else "GET", url, body=body, headers=sent
            )
        except HttpError as error:
            raise fetchers.HTTPFetchingError(error) from error


_current_fetcher: contextvars.ContextVar[fetchers.HTTPFetcher | None] = contextvars.ContextVar(
    "openid_fetcher", default=None
)


class _DispatchingFetcher(fetchers.HTTPFetcher):  # type: ignore[misc]
    """python3-openid fetches through one process-wide fetcher; this one hands each call to
    the fetcher of the relying party making it, and refuses calls made outside one."""

    def fetch(self, url: str, body: Any = None, headers: Any = None) -> fetchers.HTTPResponse:
        fetcher = _current_fetcher.get()
        if fetcher is None:
            raise fetchers.HTTPFetchingError("no fetcher chosen for this OpenID call")
        return fetcher.fetch(url, body, headers)


@contextmanager
def fetching_with(fetcher: fetchers.HTTPFetcher) -> Iterator[None]:
    if not isinstance(fetchers.getDefaultFetcher(), _DispatchingFetcher):
        fetchers.setDefaultFetcher(_DispatchingFetcher(), wrap_exceptions=True)
    token = _current_fetcher.set(fetcher)
    try:
        yield
    finally:
        _current_fetcher.reset(token)
