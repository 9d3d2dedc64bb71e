"""The member pages in English, French and Spanish (kiosk/i18n.py), with the Flask test client:
the catalogues are whole (every text the code marks has a translation, none empty or fuzzy)
and compiled (the .mo files the kiosk reads say what the .po files say); the language comes
from ``lang=`` (then a cookie), else the browser's Accept-Language; the switcher keeps the
page's query; the planner's and the card's sentences, from the domain too, are translated;
the plan API takes ``lang``; staff pages stay English.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from kiosk import i18n
from passport import cards, institutions, keys, planner, rules
from passport.words import ENGLISH, Words

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "kiosk" / "translations"
LANGUAGES = ("fr", "es")
OMSI = "oregon-museum-of-science-and-industry-portland"
EXPLORATORIUM = "exploratorium-san-francisco"
# OMSI's member living at ZIP 97214: Gilbert House (Salem) is too close to both.
PLAN = f"/?home={OMSI}&country=US&where=97214"


def catalogue(language: str):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=language)


def marked_texts() -> set[str]:
    """Every text the code marks for translation (what ``make messages`` extracts)."""
    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.fixture
def listed(db, shipped_csv):
    institutions.ensure_default_list(db)
    return db


def frozen(text):
    """A message's id or string, plural ones (lists or tuples) as tuples."""
    return text if isinstance(text, str) else tuple(text)


def html_lang(html: str) -> str:
    return re.search(r'<html lang="([a-z]+)"', html).group(1)


def between(html: str, start: str, end: str) -> str:
    at = html.index(start)
    return html[at:html.index(end, at)]


# --------------------------------------------------------------------------- catalogues

@pytest.mark.parametrize("language", LANGUAGES)
def test_every_text_has_a_translation(language):
    translated = catalogue(language)
    problems = []
    for message in translated:
        if not message.id:
            continue  # the header
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        elif not all(strings):
            problems.append(f"empty: {message.id!r}")
    missing = marked_texts() - {m.id if isinstance(m.id, str) else m.id[0]
                                for m in translated if m.id}
    problems += [f"not in the catalogue (make messages): {text!r}" for text in sorted(missing)]
    assert not problems, f"{language}: " + "; ".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_is_the_po_file(language):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo", "rb") as mo:
        compiled = {frozen(m.id): frozen(m.string) for m in read_mo(mo) if m.id}
    source = {frozen(m.id): frozen(m.string) for m in catalogue(language) if m.id}
    assert compiled == source, "stale .mo: run `make translations`"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_app_reads_every_translation(kiosk_app, language):
    """Flask-Babel, as the pages use it, finds each msgid's translation in that language."""
    from flask_babel import force_locale, get_translations

    with kiosk_app.test_request_context("/"), force_locale(language):
        translations = get_translations()
        for message in catalogue(language):
            if not message.id:
                continue
            if isinstance(message.id, tuple):
                assert translations.ngettext(*message.id, 5) == message.string[-1]
            else:
                assert translations.gettext(message.id) == message.string, message.id


# --------------------------------------------------------------------------- the domain

def test_the_domain_words_sentences_in_the_language_it_is_given():
    def shout(text: str) -> str:  # a "language": English in capitals, placeholders kept
        return re.sub(r"%\([a-z_]+\)s|[^%]+",
                      lambda m: m[0] if m[0].startswith("%(") else m[0].upper(), text)

    words = Words(gettext=shout, decimal_mark=",")
    why = planner.why_not(62.34, None, home_within=True, residence_within=False,
                          site_radius_miles=90.0, radius_miles=90.0, words=words)
    assert why == "62,3 MILES FROM YOUR HOME MUSEUM — THE PROGRAM NEEDS MORE THAN 90"
    english = planner.why_not(62.34, None, home_within=True, residence_within=False,
                              site_radius_miles=90.0, radius_miles=90.0)
    assert english == "62.3 miles from your home museum — the program needs more than 90"
    assert rules.format_miles(90.004, 90.0, words) == "MORE THAN 90"
    assert rules.format_miles(89.876, 90.0, words) == "89,88"
    assert rules.format_miles(90.004, 90.0, ENGLISH) == "more than 90"


# --------------------------------------------------------------------------- choosing

def test_the_browser_language_picks_the_page_language(kiosk_client, listed):
    french = kiosk_client.get("/", headers={"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"})
    html = french.data.decode()
    assert html_lang(html) == "fr" and "Où puis-je entrer gratuitement?" in html
    assert "Accept-Language" in french.headers["Vary"]
    spanish = kiosk_client.get("/", headers={"Accept-Language": "es-PR"}).data.decode()
    assert html_lang(spanish) == "es" and "¿Dónde puedo entrar gratis?" in spanish
    other = kiosk_client.get("/", headers={"Accept-Language": "de-DE"}).data.decode()
    assert html_lang(other) == "en" and "Where can I visit free?" in other


def test_lang_in_the_url_is_remembered_and_dropped_from_the_planner_url(kiosk_client, listed):
    response = kiosk_client.get(f"{PLAN}&lang=es", headers={"Accept-Language": "fr"})
    assert response.status_code == 302  # the planner's canonical URL has no lang
    assert response.headers["Location"] == PLAN
    assert "lang=es" in response.headers["Set-Cookie"]
    html = kiosk_client.get(PLAN, headers={"Accept-Language": "fr"}).data.decode()
    assert html_lang(html) == "es"  # the cookie wins over the browser
    assert "sitios que puede visitar con su membresía" in html
    # /card keeps its URL: the parameter itself chooses, and is remembered too
    card = kiosk_client.get("/card?lang=fr").data.decode()
    assert html_lang(card) == "fr" and "Ma carte Passport" in card
    assert html_lang(kiosk_client.get("/").data.decode()) == "fr"


def test_the_switcher_keeps_the_query(kiosk_client, listed):
    html = kiosk_client.get(f"{PLAN}&site={EXPLORATORIUM}").data.decode()
    switcher = between(html, '<nav class="languages"', "</nav>")
    links = dict(re.findall(r'href="([^"]+)" hreflang="([a-z]+)"', switcher))
    assert sorted(links.values()) == ["en", "es", "fr"]
    for href, language in links.items():
        query = dict(parse_qsl(urlsplit(href.replace("&amp;", "&")).query))
        assert query == {"home": OMSI, "country": "US", "where": "97214",
                         "site": EXPLORATORIUM, "lang": language}
    assert 'hreflang="en" lang="en" aria-current="true"' in switcher


def test_staff_pages_stay_english(kiosk_client, listed, kiosk_login):
    kiosk_client.set_cookie("lang", "fr")
    login = kiosk_client.get("/login?lang=es", headers={"Accept-Language": "fr"})
    html = login.data.decode()
    assert html_lang(html) == "en" and 'class="languages"' not in html
    assert "Staff sign in" in html and "lang=" not in login.headers.get("Set-Cookie", "")
    kiosk_login(kiosk_client)
    desk = kiosk_client.get("/desk", headers={"Accept-Language": "fr"}).data.decode()
    assert html_lang(desk) == "en" and ">Desk</a>" in desk and ">Sign out desk1<" in desk


# --------------------------------------------------------------------------- the pages

def test_the_planner_in_french_and_spanish(kiosk_client, listed):
    english = kiosk_client.get(PLAN).data.decode()
    why = between(english, '<p class="why">', "</p>")
    assert "miles from your home museum and" in why and "more than 90 from both" in why
    for language, heading, reason in (
            ("fr", "sites que vous pouvez visiter avec votre adhésion",
             "milles de votre musée d’attache et à"),
            ("es", "sitios que puede visitar con su membresía",
             "millas de su museo de origen y a")):
        kiosk_client.set_cookie("lang", language)
        html = kiosk_client.get(PLAN).data.decode()
        assert html_lang(html) == language
        assert heading in between(html, '<h2 id="eligible-heading">', "</h2>")
        why = between(html, '<p class="why">', "</p>")
        assert reason in why, why
        assert "miles" not in why and "home museum" not in why
    # French writes decimals with a comma (Québec), Spanish with a point (Puerto Rico, US)
    kiosk_client.set_cookie("lang", "fr")
    assert re.search(r"à \d+,\d milles", kiosk_client.get(PLAN).data.decode())
    kiosk_client.set_cookie("lang", "es")
    assert re.search(r"a \d+\.\d millas", kiosk_client.get(PLAN).data.decode())


def test_an_input_error_says_so_in_the_page_language(kiosk_client, listed):
    """The input rules' own messages are English (the API's): the page says so in French,
    and marks the English part as English for screen readers."""
    kiosk_client.set_cookie("lang", "fr")
    response = kiosk_client.get(f"/?home={OMSI}&near_place=Qqxzv")
    error = between(response.data.decode(), 'id="plan-error">', "</p>")[len('id="plan-error">'):]
    assert response.status_code == 400
    assert error.startswith("Ce que vous avez saisi n’a pas pu être utilisé")
    assert '<span lang="en">near_place: ' in error


def test_can_i_visit_and_terms_translated(kiosk_client, listed):
    kiosk_client.set_cookie("lang", "fr")
    html = kiosk_client.get(f"/?home={OMSI}&site={EXPLORATORIUM}").data.decode()
    answer = between(html, 'id="site-answer"', "</section>")
    assert "Puis-je visiter Exploratorium?" in answer
    assert "Oui\u00a0: vous pouvez visiter Exploratorium (San Francisco, CA)" in answer
    assert "L’accueil peut vous demander où vous habitez" in answer  # MEMBER_TEXT, in French
    assert rules.MEMBER_TEXT[rules.CHECK_RESIDENCE] not in answer


def test_the_card_page_in_spanish(kiosk_client, db):
    keys.create_key(db, OMSI)
    expired = cards.issue(db, OMSI, "M-1", ["Ada Lovelace"], date(2020, 1, 31))
    kiosk_client.set_cookie("lang", "es")
    html = kiosk_client.get(f"/card?c={expired}").data.decode()
    assert "Mi tarjeta Passport" in html and "Nombres" in html and "No válida" in html
    assert "La tarjeta de membresía está vencida." in html
    bad = kiosk_client.get("/card?c=hello")
    assert bad.status_code == 400
    assert "Ese no es un código de tarjeta Passport." in bad.data.decode()
    manifest = kiosk_client.get("/manifest.webmanifest").json
    assert manifest["name"] == "Tarjeta Passport" and manifest["lang"] == "es"


# --------------------------------------------------------------------------- the JSON

def test_the_plan_api_takes_lang(kiosk_client, listed):
    query = f"home={OMSI}&country=US&where=97214&site={EXPLORATORIUM}"
    english = kiosk_client.get(f"/api/v1/plan?{query}").json
    french = kiosk_client.get(f"/api/v1/plan?{query}&lang=fr").json
    assert "miles from your home museum" in english["ineligible"][0]["why"]
    assert "milles de votre musée d’attache" in french["ineligible"][0]["why"]
    assert french["site"]["text"].startswith("Oui\u00a0:")
    # codes, numbers and ids never change with the language
    for key in ("eligible_count", "ineligible_count", "radius_miles"):
        assert english[key] == french[key]
    assert [e["reasons"] for e in english["ineligible"]] == [
        e["reasons"] for e in french["ineligible"]]
    # the map sends the page's whole query, its lang too (kiosk/static/map.js)
    geo = kiosk_client.get(f"/api/v1/plan.geojson?{query}&home_q=OMSI&site_q=x&lang=es")
    whys = [f["properties"]["why"] for f in geo.json["features"]
            if f["properties"].get("why")]
    assert whys and all("millas" in why for why in whys)
    etags = {kiosk_client.get(f"/api/v1/plan?{query}&lang={lang}").headers["ETag"]
             for lang in ("en", "fr", "es")}
    assert len(etags) == 3
    wrong = kiosk_client.get(f"/api/v1/plan?{query}&lang=de")
    assert wrong.status_code == 400 and "'lang'" in wrong.json["error"]["message"]


def test_languages_are_the_catalogues():
    folders = sorted(p.name for p in TRANSLATIONS.iterdir() if p.is_dir())
    assert folders == sorted(set(i18n.LANGUAGES) - {i18n.DEFAULT_LANGUAGE})
    assert set(i18n.NUMBER_LOCALES) == set(i18n.LANGUAGES)
