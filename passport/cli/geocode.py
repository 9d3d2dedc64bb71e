"""CLI command: ``geocode`` (coordinates for a list row: offline postal codes, opt-in online
addresses)."""

from __future__ import annotations

import click

from passport import geocode as geo
from passport.cli import main
from passport.cli.common import emit, fail, json_option


@main.command("geocode")
@click.option("--postal", default=None, help="Postal code (offline: US ZIP codes).")
@click.option("--country", default=None, help="Country of the postal code, two letters.")
@click.option("--address", default=None, help="A street address (needs --online).")
@click.option("--online", is_flag=True,
              help="Admin opt-in: ask OpenStreetMap Nominatim over the network (geopy).")
@json_option
def geocode_cmd(postal, country, address, online, as_json):
    """Coordinates for a participant-list row: a postal code offline, or an address online.

    The front desk never needs this; it helps an admin fill in latitude/longitude before an
    import. Only --online uses the network.

    \b
    Examples:
      passport geocode --postal 99501 --country US
      passport geocode --address "625 C St, Anchorage, AK" --online --json
    """
    if (postal is None) == (address is None):
        fail("give --postal with --country, or --address with --online")
    if address is not None:
        if not online:
            fail("geocoding an address needs the network: add --online (an admin opt-in)")
        try:
            lat_deg, lon_deg = geo.geocode_address_online(address)
        except geo.GeocodeError as exc:
            fail(str(exc))
        source = "online-nominatim"
    else:
        if not country:
            fail("--postal needs --country (two letters, e.g. US)")
        try:
            lat_deg, lon_deg = geo.geocode_postal(postal, country)
        except geo.GeocodeError as exc:
            fail(str(exc))
        source = "offline-postal-centroid"
    emit({"latitude": lat_deg, "longitude": lon_deg, "source": source}, as_json,
         lambda r: f"{r['latitude']:.6f},{r['longitude']:.6f}  ({r['source']})")
