"""The member planner page (public, phone first): ``/`` for visitors (signed-in staff go to
the desk) and ``/plan`` for everyone.

The whole state is in the URL, a GET form with the API's names (``kiosk.inputs.PLAN_QUERY``,
so the map fetches ``/api/v1/plan.geojson`` with the page's own query) plus ``home_q`` and
``site_q``, what was typed in the two site pickers. Without JavaScript the server resolves
those with the desk's search ranking: a clear match becomes ``home``/``site`` and the page
redirects to its canonical URL (empty fields dropped), an ambiguous one lists "did you
mean" choices. The list is rendered on the server from ``passport.planner.member_plan``,
the same function as the JSON, its sentences in the page's language (``kiosk.i18n``; a
``lang`` parameter is not part of the canonical URL: the cookie it sets keeps the choice).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, g, redirect, render_template, request, url_for

from kiosk import i18n
from kiosk.db import get_db
from kiosk.errors import ApiError
from kiosk.inputs import PLAN_QUERY, domain_errors, plan_arguments
from kiosk.site import active_list_or_none
from passport import planner, search

bp = Blueprint("planner", __name__)

PICKERS = (("home", "home_q"), ("site", "site_q"))  # (id parameter, typed text)
PAGE_QUERY = (*PLAN_QUERY, "home_q", "site_q")
PAGE_LIMIT = 25  # eligible sites shown at first; "Show more" adds as many
RESIDENCE_TEXT = ("where", "postal", "place")


def index():
    """``/``: signed-in staff go to the desk, everyone else plans a visit."""
    if g.user is not None:
        return redirect(url_for("desk.desk"))
    return planner_page()


def _query() -> dict[str, str]:
    """The page's parameters, one value each, empty and unknown ones left out."""
    return {name: request.args[name].strip() for name in PAGE_QUERY
            if (request.args.get(name) or "").strip()}


def _same_name(active, site_id: str | None, text: str) -> bool:
    row = active.by_id.get(site_id) if site_id else None
    return row is not None and search.words(row["name"]) == search.words(text)


def _resolve(active, query: dict[str, str]) -> dict[str, list[dict]]:
    """Resolve what was typed in the pickers into ``home``/``site`` (in ``query``); returns
    the "did you mean" choices of each picker that stays unresolved."""
    choices = {}
    for id_name, text_name in PICKERS:
        text = query.get(text_name)
        if text is None:
            if text_name in request.args:  # the form's field, emptied: no site any more
                query.pop(id_name, None)
            continue
        if _same_name(active, query.get(id_name), text):
            del query[text_name]  # the picker's text is the chosen site's name
            continue
        found, options = planner.resolve_institution(active, text)
        query.pop(id_name, None)
        if found is not None:
            query[id_name] = found
            del query[text_name]
        else:
            choices[id_name] = options
    return choices


def canonical(query: dict[str, str]) -> dict[str, str]:
    """The page's query as its URL should carry it: the order of ``PAGE_QUERY``, no
    residence country without a residence, no default limit."""
    out = {name: query[name] for name in PAGE_QUERY if name in query}
    if not any(name in out for name in RESIDENCE_TEXT):
        out.pop("country", None)
    if out.get("limit") == str(PAGE_LIMIT):
        del out["limit"]
    return out


def _link(query: dict[str, str], **changes: str | None) -> str:
    params = {**query, **changes}
    return f"{request.path}?{urlencode({k: v for k, v in params.items() if v is not None})}"


def _plan(query: dict[str, str]) -> tuple[dict | None, str | None]:
    """(the member's plan, None) or (None, the error in words)."""
    try:
        kwargs = plan_arguments(query)
        kwargs["limit"] = kwargs["limit"] or PAGE_LIMIT
        kwargs["words"] = i18n.words()  # the reasons and answer in the page's language
        with domain_errors():
            return planner.member_plan(get_db(), **kwargs), None
    except ApiError as exc:
        return None, exc.message


def _links(query: dict[str, str], plan: dict | None, choices: dict) -> dict:
    """The page's links: each "did you mean" choice, "show more", and clearing a field."""
    links = {"choices": {id_name: [(row, _link(query, **{id_name: row["id"],
                                                          f"{id_name}_q": None}))
                                   for row in rows] for id_name, rows in choices.items()}}
    if plan is not None:
        shown = len(plan["eligible"])
        if shown < plan["eligible_count"]:
            links["more"] = _link(query, limit=str(shown + PAGE_LIMIT))
            links["all"] = _link(query, limit=str(plan["eligible_count"]))
    links.update(clear_site=_link(query, site=None), clear_near=_link(query, near=None),
                 clear_residence=_link(query, lat=None, lon=None))
    return links


@bp.get("/plan")
def planner_page():
    """The planner: the form, "did you mean", "Can I visit X?", the map's place, the sites
    the member can visit and, apart, the ones they cannot (400 with the error in words)."""
    active = active_list_or_none()
    if active is None:
        return render_template("member/planner.html", active=None, query={}, plan=None,
                               error=None, links={"choices": {}}, areas=[])
    query = _query()
    choices = _resolve(active, query)
    wanted = canonical(query)
    if not choices and list(wanted.items()) != list(request.args.items(multi=True)):
        return redirect(_link(wanted) if wanted else request.path)
    plan, error = _plan(wanted) if "home" in wanted else (None, None)
    return render_template(
        "member/planner.html", active=active, query=wanted, plan=plan, error=error,
        links=_links(wanted, plan, choices), areas=planner.area_choices(active),
        home_row=active.by_id.get(wanted.get("home")),
        site_row=active.by_id.get(wanted.get("site")),
    ), 400 if error else 200
