"""The member planner page without JavaScript (Flask's test client, no browser): the list
rendered on the server with the reasons in words, the pickers resolved by the server, the
whole state in the URL, filters, "Can I visit X?", and the page's weight over the wire."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest

from passport import institutions, planner

OMSI = "oregon-museum-of-science-and-industry-portland"
CHABOT = "chabot-space-science-center-oakland"
EXPLORATORIUM = "exploratorium-san-francisco"
PAGE_LIMIT_BYTES = 60 * 1024


@pytest.fixture
def listed(db, shipped_csv):
    institutions.import_file(db, shipped_csv)
    return db


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.data[-800:]
    return unescape(response.data.decode())


def section(html: str, start: str, end: str) -> str:
    begin = html.index(start)
    return html[begin:html.index(end, begin)]


def listed_ids(html: str, start: str = 'id="eligible-list"', end: str = "</ol>") -> list[str]:
    return re.findall(r'<li data-id="([^"]+)"', section(html, start, end))


def test_visitors_plan_at_the_root_and_staff_go_to_the_desk(kiosk_client, listed, kiosk_login):
    html = page(kiosk_client, "/")
    assert 'id="plan-form"' in html and 'name="home_q"' in html
    assert "<select id=\"home\"" not in html  # a searchable field, not a 368-item select
    kiosk_login(kiosk_client)
    assert kiosk_client.get("/").headers["Location"] == "/desk"
    assert 'id="plan-form"' in page(kiosk_client, "/plan")  # staff reach it too


def test_the_list_without_javascript(kiosk_client, listed):
    html = page(kiosk_client, f"/?home={CHABOT}")
    answer = planner.member_plan(listed, CHABOT, limit=25)
    eligible = listed_ids(html)
    assert eligible == [e["id"] for e in answer["eligible"]]  # the same domain function
    assert f"{answer['eligible_count']} sites you can visit" in html
    not_free = section(html, 'id="ineligible"', "</details>")
    assert f"{answer['ineligible_count']} sites too close or not covered" in not_free
    exploratorium = section(not_free, f'data-id="{EXPLORATORIUM}"', "</li>")
    assert re.search(r"\d+\.\d miles from your home museum — the program needs more than 90",
                     exploratorium)
    first = section(html, f'data-id="{eligible[0]}"', "</li>")
    assert 'class="distance">' in first and "from home" in first
    assert 'href="http' in first  # the site's website


def test_typed_home_is_resolved_and_the_url_made_canonical(kiosk_client, listed):
    form = ("/?home_q=OMSI&home=&country=US&where=&lat=&lon=&near_place=Chicago&near="
            "&site_q=&site=&area=&benefit=&limit=")
    response = kiosk_client.get(form)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert dict(parse_qsl(urlsplit(location).query)) == {"home": OMSI, "near_place": "Chicago"}
    html = page(kiosk_client, location)
    chicago = {i for i, row in institutions.load_active(listed).by_id.items()
               if row["city"] == "Chicago"}
    assert set(listed_ids(html)[:len(chicago)]) == chicago  # the Chicago sites first
    assert "nearest to Chicago, IL, US first" in html
    # the page's own form sends the picked home's name back: still the same home
    again = kiosk_client.get(f"/?home_q=Oregon+Museum+of+Science+and+Industry&home={OMSI}"
                             "&near_place=Chicago")
    assert again.status_code == 302 and again.headers["Location"] == location


def test_did_you_mean(kiosk_client, listed):
    html = page(kiosk_client, "/?home_q=science+center")
    choices = section(html, 'id="home-choices"', "</div>")
    links = re.findall(r'<a href="([^"]+)">', choices)
    assert 1 < len(links) <= planner.MAX_CHOICES
    chosen = dict(parse_qsl(urlsplit(links[0]).query))
    assert "home" in chosen and "home_q" not in chosen
    assert 'id="eligible-list"' not in html
    nothing = page(kiosk_client, "/?home_q=zzqxw")
    assert "No participating site matches “zzqxw”" in nothing


def test_filters_are_in_the_url(kiosk_client, listed):
    html = page(kiosk_client, f"/?home={OMSI}&area=US-IL&benefit=free&no_proof=1")
    active = institutions.load_active(listed)
    shown = listed_ids(html)
    assert shown and all(active.by_id[i]["region"] == "IL" for i in shown)
    assert not any(active.by_id[i]["proof_of_residence"] for i in shown)
    assert '<option value="US-IL" selected>' in html
    assert 'value="free" checked' in html and 'name="no_proof" value="1" checked' in html
    assert "<details class=\"group filters\" open>" in html


def test_more_sites_by_the_url(kiosk_client, listed):
    html = page(kiosk_client, f"/?home={OMSI}")
    assert len(listed_ids(html)) == 25
    more = re.search(r'<a href="([^"]+)">Show more</a>', html).group(1).replace("&amp;", "&")
    assert dict(parse_qsl(urlsplit(more).query))["limit"] == "50"
    assert len(listed_ids(page(kiosk_client, more))) == 50


def test_can_i_visit_on_top(kiosk_client, listed):
    html = page(kiosk_client, f"/?home={CHABOT}&site={EXPLORATORIUM}")
    answer = section(html, 'id="site-answer"', "</section>")
    assert "Can I visit Exploratorium?" in answer and 'class="answer deny"' in answer
    assert "No: Exploratorium (San Francisco, CA) is " in answer
    assert html.index('id="site-answer"') < html.index('id="eligible-list"')
    typed = kiosk_client.get(f"/?home={OMSI}&site_q=exploratorium")
    assert typed.headers["Location"] == f"/?home={OMSI}&site={EXPLORATORIUM}"
    yes = page(kiosk_client, typed.headers["Location"])
    assert "Yes: you can visit Exploratorium" in section(yes, 'id="site-answer"', "</section>")


def test_residence_and_errors(kiosk_client, listed):
    html = page(kiosk_client, f"/?home={OMSI}&country=US&where=97214&limit=400")
    assert "Where you live: <strong>97214, US (Portland, OR)</strong>" in html
    response = kiosk_client.get(f"/?home={OMSI}&near_place=Qqxzv")
    assert response.status_code == 400 and "near_place" in response.data.decode()
    assert kiosk_client.get("/?home=no-such-place").status_code == 400


def test_the_old_member_list_leads_to_the_planner(kiosk_client, listed):
    response = kiosk_client.get(f"/eligible?home={OMSI}&country=US&where=97214")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/?home={OMSI}&country=US&where=97214"


def test_the_page_over_the_wire_is_light(kiosk_client, listed):
    url = f"/?home={OMSI}&country=US&where=97214&near_place=Chicago"
    response = kiosk_client.get(url, headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert len(response.data) <= PAGE_LIMIT_BYTES
    everything = kiosk_client.get(f"{url}&limit=400", headers={"Accept-Encoding": "gzip"})
    assert len(everything.data) <= PAGE_LIMIT_BYTES  # even with every site listed


def test_emptying_the_site_field_drops_the_site(kiosk_client, listed):
    form = f"/?home_q=OMSI&home={OMSI}&site_q=&site={EXPLORATORIUM}"
    assert kiosk_client.get(form).headers["Location"] == f"/?home={OMSI}"
