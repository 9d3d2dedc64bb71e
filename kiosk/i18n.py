"""The member pages' languages (Flask-Babel): English, French and Spanish.

A member page (``MEMBER_ENDPOINTS``: the planner, ``/card``, the card's manifest) speaks, first
found: the ``lang`` query parameter (``en``, ``fr``, ``es``: what the language switcher's links
add to the page's own query), the ``lang`` cookie (set from that parameter, so the choice
holds on the next pages), the browser's ``Accept-Language``, English. Staff pages (desk,
admin console, sign-in) stay English. The planner strips ``lang`` from its canonical URL
like any parameter it does not know (the cookie keeps the choice), and its JSON API takes
``lang`` as its own parameter (``kiosk.public``), so the map asks for its sentences in the
page's language.

Catalogues: ``kiosk/translations/<lang>/LC_MESSAGES/messages.po``, compiled to the ``.mo``
files beside them (kept in the repository; ``make translations`` recompiles them and
``tests/test_i18n.py`` fails when one is stale). The domain's own sentences
(``passport.rules.MEMBER_TEXT``, the planner's reasons) reach it as ``words()``: a
``passport.words.Words`` made of the request language's catalogue and decimal mark.
"""

from __future__ import annotations

from urllib.parse import urlencode

from babel import numbers
from flask import Flask, current_app, has_request_context, request
from flask_babel import Babel, force_locale, get_locale, get_translations

from kiosk.security import cookie_secure
from passport import rules
from passport.words import Words

LANGUAGES = {"en": "English", "fr": "Français", "es": "Español"}  # the switcher's order
DEFAULT_LANGUAGE = "en"
# Numbers are written as in North America, where the program's sites are: 62.3 in English
# and Spanish (the United States, Puerto Rico, Mexico), 62,3 in French (Québec).
NUMBER_LOCALES = {"en": "en_US", "fr": "fr_CA", "es": "es_US"}
COOKIE = "lang"
COOKIE_MAX_AGE_SECONDS = 365 * 24 * 3600
MEMBER_ENDPOINTS = frozenset({"index", "planner.planner_page", "member.card",
                              "member.eligible", "pwa.manifest"})
_WORDS = "passport.words"


def init_app(app: Flask) -> None:
    """Flask-Babel with this module's language choice, the ``miles`` and ``number``
    filters in the page's language, the switcher's links and ``page_lang`` for the
    templates, and the cookie."""
    Babel(app, locale_selector=page_language)
    app.jinja_env.policies["ext.i18n.trimmed"] = True  # {% trans %} text on one line
    app.add_template_filter(format_miles, "miles")
    app.add_template_filter(format_number, "number")
    app.context_processor(_template_values)
    app.after_request(_remember_choice)


def member_page() -> bool:
    return has_request_context() and request.endpoint in MEMBER_ENDPOINTS


def _known(language: str | None) -> str | None:
    return language if language in LANGUAGES else None


def page_language() -> str:
    """The request's language (Flask-Babel's locale selector): see the module's docstring."""
    if not member_page():
        return DEFAULT_LANGUAGE
    return (_known(request.args.get("lang")) or _known(request.cookies.get(COOKIE))
            or request.accept_languages.best_match(LANGUAGES, DEFAULT_LANGUAGE))


def words(language: str | None = None) -> Words:
    """The domain's sentences in ``language`` (default: the request's), made once per app
    and language."""
    language = language or str(get_locale())
    made = current_app.extensions.setdefault(_WORDS, {})
    if language not in made:
        with force_locale(language):
            made[language] = Words(
                gettext=get_translations().gettext,
                decimal_mark=numbers.get_decimal_symbol(NUMBER_LOCALES[language]))
    return made[language]


def format_miles(dist_miles: float | None, radius_miles: float | None) -> str:
    """The templates' ``miles`` filter: ``rules.format_miles`` in the page's language."""
    return rules.format_miles(dist_miles, radius_miles, words())


def format_number(text: object) -> str:
    """The templates' ``number`` filter: a number written with ``.`` in the page's language."""
    return words().number(str(text))


def switcher_links() -> list[dict]:
    """The language switcher: each language with this page's own query and ``lang``."""
    kept = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    current = str(get_locale())
    return [{"code": code, "name": name, "current": code == current,
             "href": f"{request.path}?{urlencode([*kept, ('lang', code)])}"}
            for code, name in LANGUAGES.items()]


def _template_values() -> dict:
    return {"page_lang": str(get_locale()),
            "languages": switcher_links() if member_page() else []}


def _remember_choice(response):
    """A member page opened with ``lang=`` keeps that language in a cookie (a year)."""
    if not member_page():
        return response
    response.vary.add("Accept-Language")
    chosen = _known(request.args.get("lang"))
    if chosen and request.cookies.get(COOKIE) != chosen:
        response.set_cookie(COOKIE, chosen, max_age=COOKIE_MAX_AGE_SECONDS, httponly=True,
                            samesite="Lax", secure=cookie_secure())
    return response
