// Front desk: a keyboard-wedge scanner types the card payload + Enter into the focused scan
// field; we ask the API for the decision and show it without reloading. No dependencies;
// jsQR (vendored) is loaded only when the camera is used and the browser has no BarcodeDetector.
(() => {
  "use strict";
  const data = JSON.parse(document.getElementById("desk-data").textContent);
  const $ = (id) => document.getElementById(id);
  const names = {}; // institution id -> "Name, City" as seen in typeahead answers
  let current = null; // {body, decision, key, logged, party}
  let stream = null;
  let partyTimer = null;
  let partySeq = 0; // answers to older party re-checks are ignored

  function newKey() {
    // getRandomValues works on plain-http LAN kiosks too (randomUUID needs a secure context).
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function api(url, { method = "GET", body, form, headers = {} } = {}) {
    const allHeaders = { Accept: "application/json", "X-CSRF-Token": data.csrf, ...headers };
    let payload;
    if (form) payload = form;
    else if (body !== undefined) {
      allHeaders["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const res = await fetch(url, { method, headers: allHeaders, body: payload, credentials: "same-origin" });
    let json = null;
    try { json = await res.json(); } catch (_) { json = null; }
    if (!res.ok) {
      const err = new Error((json && json.error && json.error.message) || `Server answered ${res.status}`);
      err.code = json && json.error && json.error.code;
      err.status = res.status;
      throw err;
    }
    return json;
  }

  function focusScan() {
    const scan = $("scan");
    if (document.activeElement !== scan) scan.focus();
  }

  // Keep the scan field focused, unless staff deliberately moved to another control.
  document.addEventListener("focusout", () => {
    setTimeout(() => {
      const active = document.activeElement;
      if (!active || active === document.body) focusScan();
    }, 0);
  });

  function showError(message) {
    $("error").textContent = message;
    $("error").hidden = !message;
  }

  // A misread (the scan did not decode as a card) is not a visit: a neutral line, no verdict,
  // nothing to log.
  function showMisread(message) {
    $("misread").textContent = message || "";
    $("misread").hidden = !message;
  }

  function busy(text) { $("busy").textContent = text || ""; }

  function text(id, value) { $(id).textContent = value; }

  function miles(value, radius) {
    return value === null || value === undefined ? null : `${window.formatMiles(value, radius)} miles`;
  }

  // The decision on screen carries the text of its own codes (a site's distance term too).
  let shownText = {};
  function reasonText(code) { return shownText[code] || data.reasonText[code] || code; }

  function benefitLine(decision) {
    if (!decision.admit || !decision.benefit) return "";
    let words = data.benefitText[decision.benefit] || decision.benefit;  // rules.BENEFIT_TEXT
    if (decision.discount_percent) words = `${decision.discount_percent}% off admission`;
    return decision.program_title ? `${decision.program_title}: ${words}` : words;
  }

  // Across programs: the best benefit is the verdict; each other program one line below.
  function fillPrograms(decision) {
    const others = (decision.programs || []).slice(1);
    const list = $("r-programs");
    list.replaceChildren();
    for (const other of others) {
      const li = document.createElement("li");
      const verdict = other.admit ? "ADMIT" : "DENY";
      const why = other.admit ? benefitLine(other)
        : (other.text || {})[other.reasons[0]] || other.reasons[0];
      li.textContent = `${other.program_title || other.program}: ${verdict} — ${why}`;
      li.dataset.program = other.program || "";
      list.append(li);
    }
    $("r-programs-box").hidden = others.length === 0;
    const benefit = benefitLine(decision);
    text("r-benefit", benefit);
    $("r-benefit").hidden = !benefit;
  }

  function fillList(id, codes) {
    const list = $(id);
    list.replaceChildren();
    for (const code of codes) {
      const li = document.createElement("li");
      li.textContent = reasonText(code);
      li.dataset.code = code;
      list.append(li);
    }
  }

  function coverage(membership) {
    return data.coverage[membership] || "Ask: group or individual membership?";
  }

  function partyLine(decision, party) {
    const size = party.adults + party.children;
    const who = `${party.adults} adult${party.adults === 1 ? "" : "s"} + ${party.children} child${party.children === 1 ? "" : "ren"}`;
    if (!decision.admit) return `Party of ${size} (${who}): not admitted`;
    const covered = decision.covered;
    if (covered >= size) return `Party of ${size} (${who}): covers all ${size}`;
    return `Party of ${size} (${who}): covers ${covered} of ${size}: the others pay`;
  }

  function render(decision, body, { resetParty = true } = {}) {
    shownText = decision.text || {};
    const admit = Boolean(decision.admit);
    const verdict = $("verdict");
    verdict.className = `verdict ${admit ? "admit" : "deny"}`;
    verdict.replaceChildren();
    const word = document.createElement("span");
    word.className = "verdict-word";
    word.textContent = admit ? "ADMIT" : "DENY";
    const why = document.createElement("span");
    why.className = "verdict-why";
    why.textContent = reasonText((decision.reasons || [])[0] || "");
    verdict.append(word, why);

    const card = decision.card || null;
    text("r-names", card && card.names && card.names.length ? card.names.join(", ") : "Not on a card: read the printed card");
    text("r-covered", coverage((card && card.membership) || body.membership));
    const homeId = decision.home || (card && card.issuer_id) || "";
    const homeName = decision.home_name || names[homeId] || homeId || "unknown";
    const homeMiles = miles(decision.home_distance_miles, decision.radius_miles);
    const roughly = decision.distance_precision === "city" ? " (from the city's centre, ±1–15 km)" : "";
    text("r-home", homeMiles ? `${homeName} — ${homeMiles} away${roughly}` : homeName);
    text("r-residence", residenceLine(decision, card));
    askResidence(decision, card, resetParty);
    text("r-card", card ? `member ${card.member_id || "?"}, expires ${card.expires || "?"}` : "printed card (no QR)");
    text("r-version", decision.list_version === null || decision.list_version === undefined ? "—" : String(decision.list_version));
    fillList("r-reasons", decision.reasons || []);
    // The staff checks (photo ID first) are the one reminder on screen; a denial has none.
    const checks = decision.staff_checks || [];
    fillList("r-checks", checks);
    $("r-checks-box").hidden = checks.length === 0;
    text("r-terms", decision.terms || "");
    $("r-terms-box").hidden = !decision.terms;
    fillPrograms(decision);
    $("confirm").textContent = admit ? "Log admission" : "Log denial";
    if (resetParty) {
      // Default from the card: one adult (the named cardholder), individual or group.
      $("party-adults").value = "1";
      $("party-children").value = "0";
      $("confirm").disabled = false;
      text("logged", "");
    }
    text("r-party", partyLine(decision, readParty() || { adults: 1, children: 0 }));
    $("result").hidden = false;
  }

  function readParty() {
    const adults = Number($("party-adults").value || "0");
    const children = Number($("party-children").value || "0");
    const whole = (n) => Number.isInteger(n) && n >= 0 && n <= data.maxParty;
    if (!whole(adults) || !whole(children) || adults + children < 1 || adults + children > data.maxParty) return null;
    return { adults, children };
  }

  function partyOrError() {
    const party = readParty();
    if (!party) showError(`A party is 1 to ${data.maxParty} people: adults and children are whole numbers.`);
    return party;
  }

  // Re-decide with the party at the desk (the 2026 party rule), before it is logged.
  async function redecideParty() {
    if (!current || current.logged) return;
    const party = partyOrError();
    if (!party) return;
    showError("");
    current.key = newKey(); // a different request from here on: never replay an older one
    current.party = party;
    const seq = ++partySeq;
    try {
      const decision = await api(data.urls.check, { method: "POST", body: { ...current.body, party } });
      if (seq !== partySeq || !current || current.logged) return;
      current.decision = decision;
      render(decision, current.body, { resetParty: false });
    } catch (err) {
      showError(err.message);
    }
  }

  function partyChanged() {
    clearTimeout(partyTimer);
    partyTimer = setTimeout(redecideParty, 150);
  }

  function setParty(adults, children) {
    $("party-adults").value = String(adults);
    if (children !== undefined) $("party-children").value = String(children);
    clearTimeout(partyTimer);
    redecideParty();
  }

  function clearResult() {
    current = null;
    $("result").hidden = true;
    showError("");
    showMisread("");
    busy("");
    focusScan();
  }

  async function check(body) {
    showError("");
    showMisread("");
    busy("Checking…");
    try {
      const decision = await api(data.urls.check, { method: "POST", body });
      current = { body, decision, key: newKey(), logged: false, party: { adults: 1, children: 0 } };
      render(decision, body);
    } catch (err) {
      current = null;
      $("result").hidden = true;
      if (err.code === "card_unreadable") showMisread(err.message);
      else showError(err.message);
    } finally {
      busy("");
      focusScan();
    }
  }

  // A store fault (503: read-only, disk full, locked) means the visit was NOT logged: the
  // verdict must stop saying ADMIT as if it were. The next press retries with the same key.
  function showNotLogged(message) {
    const verdict = $("verdict");
    verdict.className = "verdict fault";
    verdict.replaceChildren();
    const word = document.createElement("span");
    word.className = "verdict-word";
    word.textContent = "NOT LOGGED";
    const why = document.createElement("span");
    why.className = "verdict-why";
    why.textContent = message;
    verdict.append(word, why);
    text("logged", "");
    $("confirm").textContent = "Try logging again";
  }

  async function confirmLog() {
    if (!current || current.logged) return;
    const party = partyOrError();
    if (!party) return;
    if (party.adults !== current.party.adults || party.children !== current.party.children) {
      current.key = newKey(); // the party changed since the last re-check
      current.party = party;
    }
    clearTimeout(partyTimer);
    partySeq++; // the logged decision below supersedes any party re-check in flight
    $("confirm").disabled = true;
    try {
      // The same key on a retry (double press, flaky network) never logs twice; the server
      // decides again with this party, and that decision is the one logged.
      const row = await api(data.urls.checkins, {
        method: "POST",
        body: { ...current.body, party },
        headers: { "Idempotency-Key": current.key },
      });
      current.logged = true;
      if (row.decision) {
        current.decision = row.decision;
        render(row.decision, current.body, { resetParty: false });
      }
      const covers = row.decision && row.admit ? ` (covers ${row.decision.covered} of ${row.party_size})` : "";
      text("logged", `Logged #${row.id}: ${row.admit ? "admitted" : "denied"}, party of ${row.party_size}${covers}.`);
      await refreshLog();
    } catch (err) {
      $("confirm").disabled = false;
      if (err.status === 503) showNotLogged(err.message);
      showError(err.message);
    } finally {
      focusScan();
    }
  }

  function timeOf(iso) {
    const d = new Date(iso);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  async function refreshLog() {
    let today;
    try {
      today = await api(data.urls.today);
    } catch (err) {
      showError(err.message);
      return;
    }
    // the banner follows the active list: shown while this desk's site is not on it
    $("site-banner").hidden = today.site_listed !== false;
    text("count-admitted", today.counts_text.admitted);
    text("count-denied", today.counts_text.denied);
    const log = $("log");
    log.replaceChildren();
    for (const row of today.checkins) {
      const li = document.createElement("li");
      li.dataset.id = row.id;
      const who = row.names && row.names.length ? row.names.join(", ") : (row.home || "");
      if (row.kind === "undo") {
        li.className = "undo";
        li.textContent = `${timeOf(row.at)} · undo of #${row.undoes}`;
      } else {
        li.className = row.admit ? "admit" : "deny";
        if (row.undone) li.classList.add("undone");
        li.textContent = `${timeOf(row.at)} · #${row.id} ${row.admit ? "ADMIT" : "DENY"} · party of ${row.party_size} · ${who}` +
          (row.undone ? " (undone)" : "");
      }
      log.append(li);
    }
  }

  async function undo() {
    showError("");
    try {
      const row = await api(data.urls.undo, { method: "POST", body: {} });
      // The result on screen is what was undone (or older): it must not stay there saying
      // "Logged #N" for Enter to log it again. The next visitor starts with a fresh scan.
      clearResult();
      busy(`Undid #${row.undoes}.`);
      await refreshLog();
    } catch (err) {
      showError(err.message);
    } finally {
      focusScan();
    }
  }

  // --- scanner / keyboard
  $("scan-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const scan = $("scan");
    const value = scan.value.trim();
    scan.value = "";
    if (!value) {
      confirmLog();
    } else if (current && /^\d{1,2}(\+\d{1,2})?$/.test(value)) {
      // "3" → 3 adults; "2+3" → 2 adults and 3 children
      const [adults, children] = value.split("+");
      setParty(Number(adults), children === undefined ? undefined : Number(children));
    } else {
      check({ visit: data.site, card: value });
    }
  });
  $("confirm-form").addEventListener("submit", (event) => {
    event.preventDefault();
    confirmLog();
  });
  $("clear").addEventListener("click", clearResult);
  $("party-adults").addEventListener("input", partyChanged);
  $("party-children").addEventListener("input", partyChanged);
  $("undo").addEventListener("click", undo);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !event.defaultPrevented) clearResult();
  });

  // --- manual flow for printed cards: typeahead over the participant list
  const homeInput = $("manual-home");
  const listbox = $("manual-home-list");
  let options = [];
  let activeIndex = -1;
  let searchTimer = null;

  $("manual-toggle").addEventListener("click", () => {
    const form = $("manual-form");
    form.hidden = !form.hidden;
    $("manual-toggle").setAttribute("aria-expanded", String(!form.hidden));
    if (!form.hidden) homeInput.focus();
  });

  function closeList() {
    listbox.hidden = true;
    homeInput.setAttribute("aria-expanded", "false");
    homeInput.removeAttribute("aria-activedescendant");
    activeIndex = -1;
  }

  function choose(index) {
    const row = options[index];
    if (!row) return;
    homeInput.value = `${row.name}, ${row.city || ""}`;
    $("manual-home-id").value = row.id;
    closeList();
    $("manual-expires").focus();
  }

  function highlight(index) {
    activeIndex = index;
    Array.from(listbox.children).forEach((li, i) => li.setAttribute("aria-selected", String(i === index)));
    if (index >= 0) homeInput.setAttribute("aria-activedescendant", `home-opt-${index}`);
  }

  async function search() {
    const q = homeInput.value.trim();
    $("manual-home-id").value = "";
    if (q.length < 2) { closeList(); return; }
    try {
      const answer = await api(`${data.urls.institutions}?q=${encodeURIComponent(q)}&limit=8`);
      options = answer.institutions;
    } catch (err) {
      showError(err.message);
      return;
    }
    listbox.replaceChildren();
    options.forEach((row, i) => {
      names[row.id] = `${row.name}, ${row.city || ""}`;
      const li = document.createElement("li");
      li.id = `home-opt-${i}`;
      li.setAttribute("role", "option");
      li.textContent = `${row.name} — ${row.city || ""}${row.region ? ", " + row.region : ""} (${row.id})`;
      li.addEventListener("mousedown", (event) => { event.preventDefault(); choose(i); });
      listbox.append(li);
    });
    listbox.hidden = options.length === 0;
    homeInput.setAttribute("aria-expanded", String(options.length > 0));
    highlight(options.length ? 0 : -1);
  }

  homeInput.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, 120);
  });
  homeInput.addEventListener("keydown", (event) => {
    if (listbox.hidden) return;
    if (event.key === "ArrowDown") { event.preventDefault(); highlight(Math.min(activeIndex + 1, options.length - 1)); }
    else if (event.key === "ArrowUp") { event.preventDefault(); highlight(Math.max(activeIndex - 1, 0)); }
    else if (event.key === "Enter" || event.key === "Tab") {
      if (activeIndex >= 0) { if (event.key === "Enter") event.preventDefault(); choose(activeIndex); }
    } else if (event.key === "Escape") { event.preventDefault(); closeList(); }
  });
  homeInput.addEventListener("blur", () => setTimeout(closeList, 150));

  $("manual-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const home = $("manual-home-id").value;
    if (!home) { showError("Pick the home institution from the list."); homeInput.focus(); return; }
    const body = { visit: data.site, home, expires: $("manual-expires").value || undefined,
      membership: $("manual-membership").value };
    Object.assign(body, residenceFields($("manual-postal"), $("manual-country").value));
    check(body);
  });

  // --- photo of a card, decoded on the server
  $("photo").addEventListener("change", async () => {
    const file = $("photo").files[0];
    if (!file) return;
    const form = new FormData();
    form.append("photo", file);
    busy("Reading the photo…");
    try {
      const answer = await api(data.urls.decode, { method: "POST", form });
      await check({ visit: data.site, card: answer.payload });
    } catch (err) {
      busy("");
      showError(err.message);
    } finally {
      $("photo").value = "";
      focusScan();
    }
  });

  // --- camera: BarcodeDetector where the browser has it, else vendored jsQR
  function loadJsQR() {
    if (window.jsQR) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = data.urls.jsqr;
      script.onload = resolve;
      script.onerror = () => reject(new Error("Could not load the QR decoder."));
      document.head.append(script);
    });
  }

  function stopCamera() {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    $("camera").hidden = true;
    $("camera-toggle").setAttribute("aria-expanded", "false");
    focusScan();
  }

  async function startCamera() {
    showError("");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showError("The camera needs HTTPS (or localhost). Use the scanner or a photo instead.");
      return;
    }
    $("camera").hidden = false;
    $("camera-toggle").setAttribute("aria-expanded", "true");
    const video = $("camera-video");
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (err) {
      stopCamera();
      showError(`Camera unavailable: ${err.message}`);
      return;
    }
    video.srcObject = stream;
    await video.play();
    let detector = null;
    if ("BarcodeDetector" in window) {
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.includes("qr_code")) detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      } catch (_) { detector = null; }
    }
    if (!detector) await loadJsQR();
    text("camera-status", detector ? "Point the camera at the card's QR code." : "Point the camera at the card's QR code (jsQR).");
    const canvas = $("camera-canvas");
    const context = canvas.getContext("2d", { willReadFrequently: true });
    const scanFrame = async () => {
      if (!stream) return;
      let found = null;
      if (video.readyState >= 2) {
        if (detector) {
          const codes = await detector.detect(video);
          found = codes.length ? codes[0].rawValue : null;
        } else {
          canvas.width = video.videoWidth;
          canvas.height = video.videoHeight;
          context.drawImage(video, 0, 0);
          const image = context.getImageData(0, 0, canvas.width, canvas.height);
          const code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
          found = code ? code.data : null;
        }
      }
      if (found) {
        stopCamera();
        check({ visit: data.site, card: found });
      } else {
        setTimeout(scanFrame, 150);
      }
    };
    scanFrame();
  }

  $("camera-toggle").addEventListener("click", () => (stream ? stopCamera() : startCamera()));
  $("camera-stop").addEventListener("click", stopCamera);

  // --- residence: always shown as given (card or clerk); a town asked for when unplaced
  function residenceLine(decision, card) {
    const r = decision.residence;
    if (!r) return "not known";
    const code = r.postal_code ? `${r.postal_code}, ${r.country}` : "";
    const place = code ? (r.place ? `${code} (${r.place})` : code)
      : (r.place || `${r.lat.toFixed(4)}, ${r.lon.toFixed(4)}`);
    if (!r.located) return `${place} — not located: ${r.note}`;
    const onCard = r.source === "input" && card && card.postal_code
      ? ` (the card says ${card.postal_code}, ${card.country})` : "";
    const away = miles(decision.residence_distance_miles, decision.radius_miles);
    return `${place}${away ? ` — ${away} away` : ""}${onCard}`;
  }

  // What the clerk typed in a "ZIP / postal code or town" field, as the check's fields: a
  // town picked from the list or typed without digits is a place; with a digit, a postal code.
  function residenceFields(input, country) {
    const value = input.value.trim();
    if (!value) return {};
    if (input.dataset.place === value || !/\d/.test(value)) {
      return { residence: { place: value }, ...(country ? { country } : {}) };
    }
    return { postal: value, country };
  }

  // An admission that leaves CHECK_RESIDENCE (no residence, or one not placed) asks for
  // the member's town, with the card's country first in the typeahead.
  function askResidence(decision, card, fresh) {
    const form = $("residence-form");
    const town = $("residence-town");
    form.hidden = !(decision.admit && (decision.staff_checks || []).includes("CHECK_RESIDENCE"));
    if (fresh) { town.value = ""; delete town.dataset.place; }
    town.dataset.country = (decision.residence && decision.residence.country)
      || (card && card.country) || "";
  }

  async function redecideResidence() {
    if (!current || current.logged) return;
    const town = $("residence-town");
    const fields = residenceFields(town, town.dataset.place ? "" : town.dataset.country);
    if (!fields.residence) { showError("Give the member's town or city (no postal code)."); return; }
    const body = { ...current.body };
    delete body.postal; // the town replaces what was given before
    delete body.country;
    Object.assign(body, fields);
    showError("");
    try {
      const decision = await api(data.urls.check, { method: "POST", body: { ...body, party: current.party } });
      current.body = body;
      current.decision = decision;
      current.key = newKey(); // a different request from here on: never replay an older one
      render(decision, body, { resetParty: false });
      focusScan();
    } catch (err) {
      showError(err.message);
    }
  }

  $("residence-form").addEventListener("submit", (event) => {
    event.preventDefault();
    redecideResidence();
  });
  $("residence-town").addEventListener("placechosen", redecideResidence);

  refreshLog();
  focusScan();
})();
