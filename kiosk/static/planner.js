// The member planner page (kiosk/templates/member/planner.html), an enhancement: the page
// works without it (the server resolves typed names and renders the list).
// - Site pickers: <input data-sites="URL" data-target="HIDDEN_ID" aria-controls="LISTBOX">
//   list participating sites as you type (GET /api/v1/sites, the desk's search ranking;
//   the typeahead is places.js's window.combobox, loaded before this file);
//   arrows + Enter or a click picks one: its name in the field, its id in the hidden input.
//   Typing again clears the id, so the server resolves the new text.
// - "Use my location" / "Near me" (button[data-locate]) ask the browser for its position
//   and submit it as lat+lon (where I live) or near (where I'm going).
// - On submit, empty fields and a picker's text whose site is chosen are left out, so the
//   URL is the page's canonical, shareable one (no redirect through the server).
(() => {
  "use strict";
  const form = document.getElementById("plan-form");
  if (!form) return;

  function wirePicker(input) {
    const hidden = document.getElementById(input.dataset.target);
    if (hidden.value) input.dataset.chosen = input.value;
    window.combobox(input, {
      async search(q) {
        if (q.length < 2) return [];
        const res = await fetch(`${input.dataset.sites}?${new URLSearchParams({ q, limit: "8" })}`,
          { headers: { Accept: "application/json" } });
        return res.ok ? (await res.json()).sites : [];
      },
      text: (site) => `${site.name} — ${[site.city, site.region || site.country].filter(Boolean).join(", ")}`,
      data: (site) => ({ id: site.id }),
      choose(site) {
        input.value = site.name;
        hidden.value = site.id;
        input.dataset.chosen = site.name;
      },
      cleared() {
        hidden.value = "";
        delete input.dataset.chosen;
      },
    });
  }

  function field(name) {
    return form.elements.namedItem(name);
  }

  function locate(button) {
    if (!navigator.geolocation) return;
    button.hidden = false;
    button.addEventListener("click", () => {
      button.disabled = true;
      navigator.geolocation.getCurrentPosition((position) => {
        const lat = position.coords.latitude.toFixed(4);
        const lon = position.coords.longitude.toFixed(4);
        if (button.dataset.locate === "residence") {
          field("lat").value = lat;
          field("lon").value = lon;
          field("where").value = "";
        } else {
          field("near").value = `${lat},${lon}`;
          field("near_place").value = "";
        }
        form.requestSubmit();
      }, () => { button.disabled = false; }, { maximumAge: 600000, timeout: 15000 });
    });
  }

  form.querySelectorAll("input[data-sites]").forEach(wirePicker);
  form.querySelectorAll("button[data-locate]").forEach(locate);
  form.addEventListener("submit", () => {
    // a typed place or point replaces the other way of giving the same thing
    if (field("where").value.trim()) { field("lat").value = ""; field("lon").value = ""; }
    if (field("near_place").value.trim()) field("near").value = "";
    form.querySelectorAll("input[data-sites]").forEach((input) => {
      const hidden = document.getElementById(input.dataset.target);
      if (hidden.value && input.dataset.chosen === input.value) input.disabled = true;
    });
    if (!field("where").value.trim()) field("country").disabled = true;
    Array.from(form.elements).forEach((element) => {
      if (element.name && !element.disabled && element.value.trim() === "" &&
          !(element.type === "radio" && !element.checked)) element.disabled = true;
    });
  });
  // Back from a later page: fields disabled on submit must be usable again.
  window.addEventListener("pageshow", () => {
    Array.from(form.elements).forEach((element) => { element.disabled = false; });
  });
})();
