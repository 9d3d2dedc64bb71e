// Distance text, the same rule as passport/rules.py format_miles (the pages' Jinja filter
// "miles"): one decimal, two within 1 mile of the radius, and "more than 90" for a distance
// beyond the radius that would still round to it. No unit.
window.formatMiles = function formatMiles(miles, radiusMiles) {
  "use strict";
  if (miles === null || miles === undefined) return "";
  const radius = radiusMiles === null || radiusMiles === undefined ? 90 : Number(radiusMiles);
  const value = Number(miles);
  const decimals = Math.abs(value - radius) <= 1 ? 2 : 1;
  const text = value.toFixed(decimals);
  if (value > radius && Number(text) <= radius) return `more than ${radius}`;
  return text;
};
