// The planner's map (issue 11), an enhancement over the list on the same page: the sites of
// /api/v1/plan.geojson (the page's own query) as markers told apart by shape as well as
// colour (a circle: free for you; a cross: not), the home and the destination, and the
// member's exclusion zones (geodesic circles built on the server), over the offline outlines
// (vendor/outlines, drawn with topojson-client) or the tile layer an admin configured.
// Needs Leaflet; without it, or without JavaScript, the section stays hidden. No request
// leaves this server unless an admin set a tile URL. Every text it shows comes from the
// page, in the page's language (the section's data-words, {name} marking a value), and the
// plan's own sentences (why not) are asked for in that language (lang=, data-lang).
(function () {
  "use strict";
  const section = document.getElementById("plan-map");
  if (!section || !window.L || !window.fetch) return;
  // The API takes the page's query but for what was typed in the planner's pickers
  // (kiosk/planner.py PICKERS); empty fields are left out, as the page leaves them out. The
  // language is the page's, whatever chose it (a lang= parameter, the cookie, the browser):
  // the API takes it as lang= (its default, English, goes without).
  const PAGE_ONLY = ["home_q", "site_q", "lang"];
  const params = new URLSearchParams();
  for (const [name, value] of new URLSearchParams(window.location.search)) {
    if (value.trim() && !PAGE_ONLY.includes(name)) params.append(name, value);
  }
  if (!params.get("home")) return;
  const lang = section.dataset.lang || "en";
  if (lang !== "en") params.set("lang", lang);  // the API's default is English
  const WORDS = JSON.parse(section.dataset.words || "{}");
  const canvas = document.getElementById("plan-map-canvas");
  const status = document.getElementById("plan-map-status");
  const US = "840";  // ISO 3166 numeric: the outlines draw the US from its states
  const NEAREST_SHOWN = 5;  // the first view holds the zones and this many sites to visit
  const SHAPES = {
    eligible: '<circle cx="10" cy="10" r="7"/>',
    ineligible: '<path d="M5 5L15 15M15 5L5 15"/>',
    home: '<path d="M10 2L18 9V18H2V9Z"/>',
    destination: '<path d="M10 19L3 5H17Z"/>',
  };

  // A text of WORDS with its {name} marks filled in.
  function words(key, values) {
    return Object.entries(values || {}).reduce(
      (text, [name, value]) => text.replace(`{${name}}`, value), WORDS[key] || "");
  }

  function say(text) {
    status.textContent = text;
    status.hidden = !text;
  }

  function icon(kind) {
    return L.divIcon({
      className: `map-marker map-marker-${kind}`,
      html: '<svg viewBox="0 0 20 20" width="20" height="20" aria-hidden="true"'
        + ` focusable="false">${SHAPES[kind]}</svg>`,
      iconSize: [20, 20],
      iconAnchor: [10, 10],
      popupAnchor: [0, -10],
    });
  }

  function line(parent, tag, text, className) {
    const element = document.createElement(tag);
    element.textContent = text;
    if (className) element.className = className;
    parent.appendChild(element);
    return element;
  }

  function miles(value, radius) {
    const format = window.formatMiles || ((m) => Number(m).toFixed(1));
    return format(value, radius, WORDS);
  }

  // Name, where, free or not (and why not), distances: the list's words, as text nodes.
  function popup(props, radius) {
    const box = document.createElement("div");
    box.className = "map-popup";
    line(box, "strong", props.name || props.id || "");
    const where = [props.city, props.region].filter(Boolean).join(", ");
    if (where) line(box, "div", where);
    if (props.eligible) {
      const store = props.benefit === "store_discount";
      line(box, "div", words(store ? "store" : "free"), "map-popup-yes");
    } else {
      line(box, "div", props.why || words("not_free"), "map-popup-no");
    }
    if (props.home_distance_miles != null && !props.why) {  // "why" says the distance
      line(box, "div", words("from_home", { miles: miles(props.home_distance_miles, radius) }));
    }
    if (props.near_distance_miles != null) {
      line(box, "div", words("from_near", { miles: miles(props.near_distance_miles, null) }));
    }
    return box;
  }

  function siteMarker(feature, radius) {
    const [lon, lat] = feature.geometry.coordinates;
    const props = feature.properties;
    const kind = props.eligible ? "eligible" : "ineligible";
    const marker = L.marker([lat, lon], {
      icon: icon(kind),
      keyboard: false,  // the list is the keyboard's way through the sites
      zIndexOffset: props.eligible ? 1000 : 0,
    });
    return marker.bindPopup(() => popup(props, radius));
  }

  function placeMarker(feature, kind, text) {
    const [lon, lat] = feature.geometry.coordinates;
    const marker = L.marker([lat, lon], { icon: icon(kind), keyboard: false, zIndexOffset: 2000 });
    const box = document.createElement("div");
    box.className = "map-popup";
    line(box, "strong", text);
    return marker.bindPopup(box);
  }

  function zoneStyle(feature) {
    const center = feature.properties.center;
    return { className: `map-zone map-zone-${center}`, weight: 2, fillOpacity: 0.12,
             dashArray: center === "residence" ? "6 4" : null };
  }

  function nearest(sites, key) {
    return sites.filter((f) => f.properties.eligible && f.properties[key] != null)
      .sort((a, b) => a.properties[key] - b.properties[key]).slice(0, NEAREST_SHOWN);
  }

  // The first view: the zones (or the destination) and the nearest sites to visit, plus the
  // site asked about ("Can I visit X?").
  function firstView(map, zones, sites, destination) {
    const key = destination ? "near_distance_miles" : "home_distance_miles";
    const bounds = destination ? L.latLngBounds([destination.getLatLng()]) : zones.getBounds();
    for (const feature of nearest(sites, key)) {
      const [lon, lat] = feature.geometry.coordinates;
      bounds.extend([lat, lon]);
    }
    const asked = sites.find((f) => f.properties.id === params.get("site"));
    if (asked) bounds.extend([asked.geometry.coordinates[1], asked.geometry.coordinates[0]]);
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [16, 16], maxZoom: 8, animate: false });
  }

  function draw(map, collection) {
    const features = collection.features || [];
    const zoneFeatures = features.filter((f) => f.properties && f.properties.kind === "exclusion");
    const radius = zoneFeatures.length ? zoneFeatures[0].properties.radius_miles : null;
    const zones = L.geoJSON(zoneFeatures, { style: zoneStyle, interactive: false }).addTo(map);
    const sites = features.filter((f) => f.properties && f.properties.kind === "site");
    for (const feature of sites) siteMarker(feature, radius).addTo(map);
    let destination = null;
    for (const feature of features) {
      const props = feature.properties || {};
      if (props.kind === "home") {
        placeMarker(feature, "home", words("home", { name: props.name })).addTo(map);
      } else if (props.kind === "destination") {
        destination = placeMarker(feature, "destination",
                                  words("destination", { place: props.label }));
        destination.addTo(map);
      }
    }
    firstView(map, zones, sites, destination);
    section.dataset.sites = String(sites.length);
  }

  // The offline base map: land filled, country borders and coasts, US states (the Census
  // outlines, clipped to the shoreline), Canada's provinces and territories.
  function drawOutlines(map, topology) {
    const outlines = { pane: "outlines", interactive: false };
    const countries = topojson.feature(topology, topology.objects.countries);
    countries.features = countries.features.filter((f) => f.id !== US);
    const land = [countries, topojson.feature(topology, topology.objects.states)];
    L.geoJSON(land, { ...outlines, style: { className: "map-land", stroke: false } }).addTo(map);
    const lines = [
      topojson.mesh(topology, topology.objects.countries, (a, b) => a.id !== US && b.id !== US),
      topojson.mesh(topology, topology.objects.states),
      topojson.feature(topology, topology.objects.provinces),
    ];
    L.geoJSON(lines, { ...outlines, style: { className: "map-outline", weight: 1 } }).addTo(map);
  }

  function baseLayer(map) {
    const tiles = section.dataset.tileUrl;
    if (tiles) {
      L.tileLayer(tiles, { attribution: section.dataset.tileAttribution || "", maxZoom: 18 })
        .addTo(map);
      return Promise.resolve();
    }
    map.createPane("outlines").style.zIndex = 250;
    map.attributionControl.addAttribution(words("outlines_credit"));
    if (!window.topojson) return Promise.resolve();
    return fetch(section.dataset.outlines)
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((topology) => drawOutlines(map, topology));
  }

  section.hidden = false;
  const map = L.map(canvas, {
    worldCopyJump: true, minZoom: 2, maxZoom: 12, fadeAnimation: false, zoomControl: false,
  });
  L.control.zoom({ zoomInTitle: words("zoom_in"), zoomOutTitle: words("zoom_out") }).addTo(map);
  map.on("popupopen", (event) => {  // Leaflet names its close button in English
    const close = event.popup.getElement().querySelector(".leaflet-popup-close-button");
    if (close) close.setAttribute("aria-label", words("close"));
  });
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
  map.setView([39.5, -98.35], 3);
  const outlines = baseLayer(map).catch(() => say(words("outlines_failed")));
  const plan = fetch(`${section.dataset.plan}?${params.toString()}`)
    .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
    .then((collection) => draw(map, collection))
    .catch(() => say(words("map_failed")));
  Promise.all([outlines, plan]).then(() => { section.dataset.ready = "true"; });
})();
