"""`passport geocode`: offline postal codes; the online address geocoder only on opt-in,
exercised against a Nominatim-shaped server on loopback (no internet)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from click.testing import CliRunner

from passport import geocode
from passport.cli import main


def test_postal_code_offline():
    result = CliRunner().invoke(main, ["geocode", "--postal", "99501", "--country", "US",
                                       "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["source"] == "offline-postal-centroid"
    assert (body["latitude"], body["longitude"]) == pytest.approx((61.22, -149.87), abs=0.05)


@pytest.mark.parametrize("args, message", [
    (["--address", "625 C St, Anchorage"], "add --online"),
    (["--postal", "99501"], "--postal needs --country"),
    ([], "give --postal"),
    (["--postal", "K1G 5A3", "--country", "CA"], "cannot geocode postal code K1G 5A3"),
])
def test_bad_input_is_one_line(args, message):
    result = CliRunner().invoke(main, ["geocode", *args])
    assert result.exit_code == 1
    assert result.stdout == "" and result.stderr.count("\n") == 1 and message in result.stderr


class _Nominatim(BaseHTTPRequestHandler):
    """Answers /search like Nominatim: one hit for 'Anchorage', none otherwise."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        query = parse_qs(urlparse(self.path).query).get("q", [""])[0]
        hits = [{"lat": "61.2163", "lon": "-149.8872", "display_name": query}]
        body = json.dumps(hits if "Anchorage" in query else []).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def nominatim():
    server = HTTPServer(("127.0.0.1", 0), _Nominatim)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_online_address_opt_in_through_geopy(nominatim):
    found = geocode.geocode_address_online("625 C St, Anchorage", domain=nominatim,
                                           scheme="http")
    assert found == pytest.approx((61.2163, -149.8872))
    with pytest.raises(geocode.GeocodeError, match="found nothing"):
        geocode.geocode_address_online("Nowhere", domain=nominatim, scheme="http")


def test_online_geocoder_unreachable_is_a_clear_error():
    with socket.socket() as closed:  # a loopback port with nobody listening
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(geocode.GeocodeError, match="online geocoder failed"):
        geocode.geocode_address_online("625 C St, Anchorage", domain=f"127.0.0.1:{port}",
                                       scheme="http", timeout_s=2.0)
