// The typeahead of the kiosk's pages (ARIA combobox + listbox), and the town typeahead over
// the offline gazetteer (GET /api/v1/places, public) built on it.
//
// window.combobox(input, {search, text, data, choose, cleared}) wires an <input
// aria-controls="LISTBOX_ID">: after a pause in typing, search(query) answers a promise of
// options (an empty list to show nothing); text(option) is its line in the list and
// data(option) its item's data- attributes (for tests and styles); arrows +
// Enter or a click picks one and calls choose(option); Esc closes; typing again calls
// cleared(). Answers to older keystrokes are ignored. planner.js uses it for its site pickers.
//
// Towns: every <input data-places="URL" aria-controls="LISTBOX_ID">: two or more letters list
// matching towns; text with a digit is a postal code and lists nothing. The country whose
// towns come first is the input's data-country, or the value of the <select> named by
// data-country-select. Picking a town puts its label ("Markham, ON, CA") in the field, keeps
// it in data-place, and fires a "placechosen" event (detail: the place). No dependencies.
(() => {
  "use strict";

  window.combobox = function combobox(input, { search, text, data, choose, cleared }) {
    const listbox = document.getElementById(input.getAttribute("aria-controls"));
    let options = [];
    let active = -1;
    let timer = null;
    let seq = 0; // answers to older keystrokes are ignored

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

    function pick(index) {
      const option = options[index];
      if (!option) return;
      close();
      choose(option);
    }

    async function update() {
      const mine = ++seq;
      let found;
      try {
        found = await search(input.value.trim());
      } catch (_) {
        found = [];
      }
      if (mine !== seq) return;
      options = found;
      listbox.replaceChildren();
      options.forEach((option, i) => {
        const li = document.createElement("li");
        li.id = `${input.id}-opt-${i}`;
        li.setAttribute("role", "option");
        Object.assign(li.dataset, data(option));
        li.textContent = text(option);
        li.addEventListener("mousedown", (event) => { event.preventDefault(); pick(i); });
        listbox.append(li);
      });
      if (!options.length) { close(); return; }
      listbox.hidden = false;
      input.setAttribute("aria-expanded", "true");
      highlight(0);
    }

    input.addEventListener("input", () => {
      cleared();
      clearTimeout(timer);
      timer = setTimeout(update, 120);
    });
    input.addEventListener("keydown", (event) => {
      if (listbox.hidden) return;
      if (event.key === "ArrowDown") { event.preventDefault(); highlight(Math.min(active + 1, options.length - 1)); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(Math.max(active - 1, 0)); }
      else if (event.key === "Enter" && active >= 0) { event.preventDefault(); pick(active); }
      else if (event.key === "Escape") { event.preventDefault(); close(); }
    });
    input.addEventListener("blur", () => setTimeout(close, 150));
  };

  function wireTowns(input) {
    function country() {
      const select = input.dataset.countrySelect && document.getElementById(input.dataset.countrySelect);
      return (select ? select.value : input.dataset.country) || "";
    }

    window.combobox(input, {
      async search(q) {
        if (q.length < 2 || /\d/.test(q)) return [];
        const params = new URLSearchParams({ q, limit: "8" });
        if (country()) params.set("country", country());
        const res = await fetch(`${input.dataset.places}?${params}`, { headers: { Accept: "application/json" } });
        return res.ok ? res.json() : [];
      },
      text: (place) => place.label,
      data: (place) => ({ label: place.label }),
      choose(place) {
        input.value = place.label;
        input.dataset.place = place.label;
        input.dispatchEvent(new CustomEvent("placechosen", { detail: place, bubbles: true }));
      },
      cleared() { delete input.dataset.place; },
    });
  }

  document.querySelectorAll("input[data-places]").forEach(wireTowns);
})();
