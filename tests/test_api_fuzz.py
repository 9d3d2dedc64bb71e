"""Schemathesis on kiosk/openapi.yaml against the real app (through its WSGI interface, on a
real store with the shipped list published and a real API token): for every operation,
schema-valid and schema-violating requests; no answer may be a 5xx, every status code,
content type, header and body must be the one the spec documents, and a request the spec
calls invalid must be refused. Short and derandomized here; ``make fuzz`` runs the long one
against a real server (tests/fuzz/run.py api).

Left out: ``positive_data_acceptance``. The domain refuses some schema-valid requests by
their meaning (an id not on the list, a town not in the gazetteer, a postal code not written
as its country writes them): a 400 that the spec documents, not a finding.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import kiosk
from passport import auth, institutions, store

KIOSK_TEST_NOW = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)  # conftest's instant: noon in CA

SPEC = Path(kiosk.__file__).parent / "openapi.yaml"
_PATHS = yaml.safe_load(SPEC.read_text())["paths"]
OPERATIONS = [(method.upper(), path) for path, item in _PATHS.items()
              for method in item if method in ("get", "post", "put", "patch", "delete")]
# (method, path, mode): schema-violating requests only where the operation takes input
# (an operation without parameters or body has no request to get wrong).
RUNS = [(method, path, mode) for method, path in OPERATIONS
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if mode is GenerationMode.POSITIVE or _PATHS[path][method.lower()].get("parameters")
        or _PATHS[path][method.lower()].get("requestBody")]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection,
          ignored_auth]
EXAMPLES = 25  # per operation and mode: ~30 s for the whole file on 2 cores


@pytest.fixture(scope="module")
def api_app(tmp_path_factory, shipped_csv):
    """(app, token): the kiosk on one store for the whole module, the shipped list published
    and a real API token; no rate limit on the public planner (every fuzzed request comes
    from one address). Fuzzed check-ins pile up in its log, as they would on a live kiosk."""
    from kiosk import create_app

    path = tmp_path_factory.mktemp("api-fuzz") / "passport.sqlite"
    db = store.open_db(path)
    try:
        institutions.import_file(db, shipped_csv)
        _, token = auth.create_token(db, "fuzz")
    finally:
        db.close()
    app = create_app({"TESTING": True, "DB": str(path), "SECRET_KEY": "test-only-secret",
                      "CLOCK": lambda: KIOSK_TEST_NOW, "PUBLIC_RATE_LIMIT": 0})
    return app, token


def test_every_operation_is_fuzzed():
    """The list below is the spec's: a new operation is fuzzed without a change here."""
    assert {("POST", "/check"), ("POST", "/checkins"), ("GET", "/checkins"),
            ("POST", "/checkins/{id}/undo"), ("GET", "/plan")} <= set(OPERATIONS)


@pytest.mark.parametrize(("method", "path", "mode"), RUNS,
                         ids=[f"{method} {path} {mode}" for method, path, mode in RUNS])
def test_api_answers_as_documented(api_app, method, path, mode):
    app, token = api_app
    schema = schemathesis.openapi.from_path(SPEC)
    schema.app = app

    @given(case=schema[path][method].as_strategy(mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def answers_as_documented(case):
        # A well-formed generated bearer becomes the real token; one that the negative
        # mode removed or mangled stays so (the answer must then be a 401).
        if str((case.headers or {}).get("Authorization", "")).startswith("Bearer "):
            case.headers["Authorization"] = f"Bearer {token}"
        # The test client does not decode gzip (kiosk/compress.py): ask for plain bodies.
        case.call_and_validate(headers={"Accept-Encoding": "identity"}, checks=CHECKS)

    answers_as_documented()


# What the fuzzing found (issue 15), each held by a request of its own.
FOUND = [
    # A report from before year 1000 printed "999-01" months and failed (500).
    ("/api/v1/reports/visits?from=0999-01-01&to=2000-01-01", "'from' must be 2000-01-01"),
    ("/api/v1/reports/visits?to=9999-12-31&by=hour", "'to' must be 2000-01-01"),
    # Unknown parameters were ignored here while every other route refused them.
    ("/api/v1/institutions?limit=1&colour=red", "unknown query parameter 'colour'"),
    ("/api/v1/eligible?home=x&colour=red", "unknown query parameter 'colour'"),
    # limit=0 was taken as "no limit" though the spec says 1-1000.
    ("/api/v1/eligible?home=x&limit=0", "'limit' must be 1-1000"),
    # A search text over the spec's 200 characters was cut silently.
    ("/api/v1/sites?q=" + "a" * 201, "'q' has at most 200 characters"),
]


@pytest.mark.parametrize(("url", "message"), FOUND, ids=[u.split("?")[0] for u, _ in FOUND])
def test_found_by_fuzzing(api_app, url, message):
    app, token = api_app
    response = app.test_client().get(url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400, response.data
    assert response.json["error"]["code"] == "invalid_input"
    assert message in response.json["error"]["message"]
