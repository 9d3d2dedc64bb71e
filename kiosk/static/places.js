// Town typeahead over the offline gazetteer (GET /api/v1/places, public). Wires every
// <input data-places="URL" aria-controls="LISTBOX_ID">: typing two or more letters lists
// matching towns (arrows + Enter or a click picks one, Esc closes); text with a digit is a
// postal code and lists nothing. The country whose towns come first is the input's
// data-country, or the value of the <select> named by data-country-select. Picking a town
// puts its label ("Markham, ON, CA") in the field, keeps it in data-place, and fires a
// "placechosen" event (detail: the place) that pages may act on. No dependencies.
(() => {
  "use strict";

  function wire(input) {
    const listbox = document.getElementById(input.getAttribute("aria-controls"));
    const url = input.dataset.places;
    let options = [];
    let active = -1;
    let timer = null;
    let seq = 0; // answers to older keystrokes are ignored

    function country() {
      const select = input.dataset.countrySelect && document.getElementById(input.dataset.countrySelect);
      return (select ? select.value : input.dataset.country) || "";
    }

    function close() {
      listbox.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      active = index;
      Array.from(listbox.children).forEach((li, i) => li.setAttribute("aria-selected", String(i === index)));
      if (index >= 0) input.setAttribute("aria-activedescendant", `${input.id}-opt-${index}`);
    }

    function choose(index) {
      const place = options[index];
      if (!place) return;
      input.value = place.label;
      input.dataset.place = place.label;
      close();
      input.dispatchEvent(new CustomEvent("placechosen", { detail: place, bubbles: true }));
    }

    async function search() {
      const q = input.value.trim();
      const mine = ++seq;
      if (q.length < 2 || /\d/.test(q)) { close(); return; }
      const params = new URLSearchParams({ q, limit: "8" });
      if (country()) params.set("country", country());
      let found;
      try {
        const res = await fetch(`${url}?${params}`, { headers: { Accept: "application/json" } });
        found = res.ok ? await res.json() : [];
      } catch (_) {
        found = [];
      }
      if (mine !== seq) return;
      options = found;
      listbox.replaceChildren();
      options.forEach((place, i) => {
        const li = document.createElement("li");
        li.id = `${input.id}-opt-${i}`;
        li.setAttribute("role", "option");
        li.dataset.label = place.label;
        li.textContent = place.label;
        li.addEventListener("mousedown", (event) => { event.preventDefault(); choose(i); });
        listbox.append(li);
      });
      listbox.hidden = options.length === 0;
      input.setAttribute("aria-expanded", String(options.length > 0));
      highlight(options.length ? 0 : -1);
    }

    input.addEventListener("input", () => {
      delete input.dataset.place;
      clearTimeout(timer);
      timer = setTimeout(search, 120);
    });
    input.addEventListener("keydown", (event) => {
      if (listbox.hidden) return;
      if (event.key === "ArrowDown") { event.preventDefault(); highlight(Math.min(active + 1, options.length - 1)); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(Math.max(active - 1, 0)); }
      else if (event.key === "Enter" && active >= 0) { event.preventDefault(); choose(active); }
      else if (event.key === "Escape") { event.preventDefault(); close(); }
    });
    input.addEventListener("blur", () => setTimeout(close, 150));
  }

  document.querySelectorAll("input[data-places]").forEach(wire);
})();
