"""The language of pages: the language menu (cookie, and the account of a signed-in person),
else Accept-Language, else English; and no English left on a page in another language."""

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from entrypoints.web.i18n import ENGLISH, LANGUAGES, best_match, page_texts, when
from tests.entrypoints.conftest import csrf_token, log_in

TRANSLATIONS = Path(__file__).resolve().parents[2] / "src/entrypoints/web/translations"
TRANSLATED = sorted(locale for locale in LANGUAGES if locale != ENGLISH)
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
CHROME_ON_LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
# Latin-script words a Chinese or Japanese page may hold: names of the site, protocols,
# providers, languages (in the menu), browsers, systems and time zones, and the person's.
PROPER_NAMES = {
    "Microblog", "OpenID", "Fake", "English", "Español", "Deutsch", "Français",
    "Chrome", "Linux", "UTC", "alice", "ID",
}  # fmt: skip
ADDRESSES = re.compile(r"\S+://\S+|\S+\.example\S*")


# Accept-Language headers as browsers send them, and anything else.
language_ranges = st.sampled_from(
    ["zh-CN", "zh", "zh-TW", "zh-Hant", "es-419", "de-AT", "fr", "ja-JP", "en-GB", "pt-BR", "*"]
) | st.text(max_size=12)
accept_language = st.lists(
    st.tuples(language_ranges, st.sampled_from(["", ";q=0", ";q=0.5", ";q=1", ";q=x"])),
    max_size=5,
).map(lambda ranges: ", ".join(tag + quality for tag, quality in ranges)) | st.text(max_size=80)


@given(accept_language)
def test_any_accept_language_header_gives_a_shipped_language_or_none(header):
    assert best_match(header) in {*LANGUAGES, None}


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("zh-SG", "zh_Hans"),
        ("zh-TW, ja;q=0.5", "ja"),  # Traditional Chinese is not shipped: the next one is
        ("zh-Hant", None),
        ("es-419", "es"),
        ("fr-CA;q=0.8, de-AT;q=0.9", "de"),
        ("ja;q=0, fr;q=0.1", "fr"),
        ("pt-BR", None),
        ("*", None),
        ("", None),
        (None, None),
    ],
)
def test_accept_language_gives_the_best_shipped_match(header, chosen):
    assert best_match(header) == chosen


def lang_of(page) -> str:
    return re.search(r'<html lang="([^"]+)"', page.get_data(as_text=True)).group(1)


def test_pages_are_in_english_without_accept_language_and_name_their_language(client):
    assert lang_of(client.get("/login")) == "en"
    page = client.get("/login", headers={"Accept-Language": "zh-CN"})
    assert lang_of(page) == "zh-Hans"
    assert "<h1>登录</h1>" in page.get_data(as_text=True)


def choose(client, language, next_path="/login", on="/login"):
    """Pick a language in the menu of the page `on`."""
    form = {"language": language, "next": next_path, "csrf_token": csrf_token(client, on)}
    return client.post("/language", data=form)


def test_the_language_menu_is_remembered_in_a_cookie_over_accept_language(client):
    chosen = choose(client, "es", "/login?next=%2Faccount")
    assert chosen.status_code == 303
    assert chosen.headers["Location"] == "/login?next=%2Faccount"
    cookie = client.get_cookie("language")
    assert cookie.value == "es" and cookie.http_only and cookie.max_age > 86400 * 300
    page = client.get("/login", headers={"Accept-Language": "de"})
    assert lang_of(page) == "es" and "Iniciar sesión" in page.get_data(as_text=True)


def test_the_language_menu_needs_its_csrf_token_unless_it_comes_from_this_site(client):
    form = {"language": "es", "next": "/login"}
    assert client.post("/language", data=form).status_code == 400
    other_site = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    assert client.post("/language", data=form, headers=other_site).status_code == 400
    assert client.get_cookie("language") is None
    this_site = {"Origin": "http://127.0.0.1:5000", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/language", data=form, headers=this_site).status_code == 303
    assert client.get_cookie("language").value == "es"


def test_a_strangers_page_offers_the_menu_without_making_a_session(client):
    page = client.get("/nowhere", headers={"Accept-Language": "fr"})
    assert page.status_code == 404 and 'action="/language"' in page.get_data(as_text=True)
    assert client.get_cookie("session") is None


def test_the_language_menu_ignores_unknown_languages_and_goes_back_only_to_this_site(client):
    assert choose(client, "xx", "/login").headers["Location"] == "/login"
    assert client.get_cookie("language") is None
    for elsewhere in ["//evil.example/", "https://evil.example/", "/\\evil.example"]:
        assert choose(client, "de", elsewhere).headers["Location"] == "/index"


def test_a_signed_in_persons_choice_is_kept_on_their_account_for_other_browsers(app):
    first = app.test_client()
    log_in(first, subject="https://id.example/alice")
    choose(first, "ja", "/index", on="/index")
    assert lang_of(first.get("/index")) == "ja"

    other = app.test_client()  # another browser: no cookie, an English Accept-Language
    log_in(other, subject="https://id.example/alice")
    page = other.get("/index", headers={"Accept-Language": "en"})
    assert lang_of(page) == "ja"
    assert re.search(r"<h1>こんにちは、.+ さん！</h1>", page.get_data(as_text=True))


class VisibleText(HTMLParser):
    """What a person reads or hears: text, and the labels given in attributes."""

    READ_ATTRIBUTES = frozenset({"aria-label", "title", "alt"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "title"):
            self._hidden += 1
        self.parts += [value or "" for name, value in attrs if name in self.READ_ATTRIBUTES]

    def handle_endtag(self, tag):
        if tag in ("script", "style", "title"):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    reader = VisibleText()
    reader.feed(html)
    return " ".join(" ".join(reader.parts).split())


def english_fragments(locale: str) -> list[str]:
    """The English texts of the messages that this locale translates differently: each
    piece between placeholders of four letters or more."""
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as file:
        catalog = read_po(file)
    fragments = set()
    for message in catalog:
        if not message.id:
            continue
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if set(sources) & set(strings):
            continue  # the same in both languages, such as a name
        for source in sources:
            for piece in PLACEHOLDER.split(source):
                piece = piece.strip(" .,:;!?()")
                if sum(char.isalpha() for char in piece) >= 4:
                    fragments.add(piece)
    return sorted(fragments)


def english_left(text: str, locale: str) -> list[str]:
    found = [f for f in english_fragments(locale) if re.search(rf"\b{re.escape(f)}\b", text)]
    if locale in ("zh_Hans", "ja"):
        words = set(re.findall(r"[^\W\d_]*[A-Za-z][^\W\d_]*", ADDRESSES.sub(" ", text)))
        found += sorted(words - PROPER_NAMES)
    return found


def pages_in(app, locale: str) -> dict[str, str]:
    """Every kind of page, in a language chosen by the language menu."""
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = CHROME_ON_LINUX
    choose(client, locale)
    pages = {
        "login": client.get("/login"),
        "login sent from a page": client.get("/login?next=%2Faccount"),
        "login with an error": client.post(
            "/login", data={"provider": "nobody", "csrf_token": csrf_token(client)}
        ),
        "not found": client.get("/nowhere"),
        "wrong method": client.put("/login"),
        "too large": client.post("/login", data={"x": "y" * 70000}),
        "expired form": client.post("/login", data={"provider": "fake"}),
    }
    log_in(client, subject="https://id.example/alice", nickname="alice")
    pages["index"] = client.get("/index")
    pages["account"] = client.get("/account")
    pages["nothing to connect"] = client.get("/account/connect/confirm")
    return {name: page.get_data(as_text=True) for name, page in pages.items()}


@pytest.mark.parametrize("locale", TRANSLATED)
def test_no_english_is_left_on_a_page_in_another_language(app, locale):
    pages = pages_in(app, locale)
    tag = LANGUAGES[locale].tag
    for name, html in pages.items():
        assert f'<html lang="{tag}">' in html, name
        assert english_left(visible_text(html), locale) == [], name


def test_the_english_check_finds_english_on_a_page(app):
    """The check above can fail: an English page has plenty for it to find."""
    english = pages_in(app, "en")
    assert "Sign in with" in english_left(visible_text(english["login"]), "zh_Hans")
    assert "Your account" in english_left(visible_text(english["account"]), "de")


def test_a_forged_language_cookie_is_ignored(client):
    for forged in ["xx", "../../etc/passwd", "zh_Hant", "en" * 100]:
        client.set_cookie("language", forged)
        page = client.get("/login", headers={"Accept-Language": "fr"})
        assert page.status_code == 200 and lang_of(page) == "fr", forged


@pytest.mark.parametrize("locale", ["en", *TRANSLATED])
def test_a_nickname_is_escaped_in_every_languages_greeting(app, locale):
    client = app.test_client()
    log_in(client, subject="https://id.example/mallory", nickname="mallory")
    choose(client, locale, "/index", on="/index")
    token = csrf_token(client, "/account")
    renamed = client.post("/account/nickname", data={"nickname": "<i>m</i>", "csrf_token": token})
    assert renamed.status_code == 302, renamed.get_data(as_text=True)
    page = client.get("/index").get_data(as_text=True)
    assert "&lt;i&gt;m&lt;/i&gt;" in page and "<i>m</i>" not in page


@pytest.mark.parametrize(
    ("accept_language", "written"),
    [
        ("en", "Jan 5, 2026, 3:04\u202fPM UTC"),
        ("zh-CN", "2026年1月5日 15:04 UTC"),
        ("de", "05.01.2026, 15:04 UTC"),
        ("fr", "5 janv. 2026, 15:04 TU"),
    ],
)
def test_dates_and_times_are_written_the_readers_way_with_the_time_zone(
    app, accept_language, written
):
    with app.test_request_context(headers={"Accept-Language": accept_language}):
        assert when(datetime(2026, 1, 5, 15, 4, tzinfo=UTC)) == written


@pytest.mark.parametrize(
    ("language", "refusal"),
    [
        ("en", "Field cannot be longer than"),
        ("de", "Feld kann nicht länger als"),
        ("zh_Hans", "字段长度不能超过"),
        ("en", "Field cannot be longer than"),  # a catalog kept for one language is not another's
    ],
)
def test_wtforms_own_refusals_are_in_the_readers_language(client, language, refusal):
    client.set_cookie("language", language)
    token = csrf_token(client, "/login")
    page = client.post(
        "/login", data={"identifier": "x" * 5000, "provider": "openid", "csrf_token": token}
    )
    assert page.status_code == 400 and refusal in page.get_data(as_text=True)


def test_a_templates_texts_take_any_variable_name_and_count_in_the_readers_language(app):
    template = app.jinja_env.from_string(
        "{{ _('Hi, %(nickname)s!', nickname=text, text=text) }} "
        "{{ ngettext('%(num)d session', '%(num)d sessions', count, plural=text) }}"
    )
    with app.test_request_context(headers={"Accept-Language": "de"}):
        rendered = template.render(text="<b>", count=2, **page_texts())
    assert rendered == "Hallo, &lt;b&gt;! 2 sessions"
