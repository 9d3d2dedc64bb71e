"""Display formatting shared by the templates (a Jinja filter) and mirrored in
``static/miles.js`` for the desk page; no business logic."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# Within this many miles of the radius, distances show two decimals instead of one, so an
# admission (more than the radius) and a denial (the radius or less) never look the same.
NEAR_RADIUS_MILES = 1.0


def format_miles(miles: float | None, radius_miles: float | None = 90.0) -> str:
    """``miles`` as text without the unit: one decimal, two within 1 mile of the radius;
    a distance beyond the radius that would still round to it reads ``more than 90``."""
    if miles is None:
        return ""
    radius = 90.0 if radius_miles is None else float(radius_miles)
    decimals = 2 if abs(miles - radius) <= NEAR_RADIUS_MILES else 1
    # Half up on the float's exact value: what JavaScript's toFixed does in miles.js.
    text = str(Decimal(miles).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP))
    if miles > radius and float(text) <= radius:
        return f"more than {radius:g}"
    return text
