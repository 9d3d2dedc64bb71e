// Distance text, the same rule as passport/rules.py format_miles (the pages' Jinja filter
// "miles"): one decimal, two within 1 mile of the decision's radius, and "more than R" for
// a distance beyond the radius that would still round to it; one decimal when no radius
// applies (null). No unit. The radius always comes from the decision, never from here.
// `words` (optional, the member map's) writes it in the page's language:
// {more_than: "plus de {radius}", decimal_mark: ","}; English without it.
window.formatMiles = function formatMiles(miles, radiusMiles, words) {
  "use strict";
  if (miles === null || miles === undefined) return "";
  const mark = (words && words.decimal_mark) || ".";
  const number = (text) => (mark === "." ? text : text.replace(".", mark));
  const value = Number(miles);
  if (radiusMiles === null || radiusMiles === undefined) return number(value.toFixed(1));
  const radius = Number(radiusMiles);
  const decimals = Math.abs(value - radius) <= 1 ? 2 : 1;
  const text = value.toFixed(decimals);
  if (value > radius && Number(text) <= radius) {
    const moreThan = (words && words.more_than) || "more than {radius}";
    return moreThan.replace("{radius}", number(String(radius)));
  }
  return number(text);
};
