// Passport's service worker, served by kiosk/pwa.py as /sw.js (scope: the whole site). It keeps
// the member's card, the planner shell and the static files they use working without a
// network. Pages and the planner's data: network first (fresh whenever the phone is online),
// the kept copy when offline or when the network is slow. Static files: the kept copy first.
// Everything else (the desk, the admin console, any POST) goes to the network untouched.
// One cache per release: its name changes with the app version and the static files.
"use strict";

const CACHE = {{ cache_name|tojson }};
const CACHE_FAMILY = "passport-";
const PRECACHE = {{ precache|tojson }};
const SHELL = {{ shell|tojson }};  // the planner
const CARD_PAGE = {{ card_page|tojson }};
const PAGES = {{ pages|tojson }};
const DATA = {{ data|tojson }};
const STATIC_PREFIX = {{ static_prefix|tojson }};
const NETWORK_WAIT_MS = 4000;  // then a kept copy, if there is one, while the network goes on
const MAX_KEPT_PER_PATH = 20;  // planner pages, cards or planner answers, the newest kept

self.addEventListener("install", (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

// A new release: the pages and planner answers kept by the one before move into this
// cache (the member's card stays on the phone); its static files were fetched anew at
// install; then the older caches go.
self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    for (const name of await caches.keys()) {
      if (!name.startsWith(CACHE_FAMILY) || name === CACHE) continue;
      const older = await caches.open(name);
      for (const request of await older.keys()) {
        const path = new URL(request.url).pathname;
        if ((PAGES.includes(path) || DATA.includes(path)) && !(await cache.match(request))) {
          await cache.put(request, await older.match(request));
        }
      }
      await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

// A page asks to keep itself and the static files it loaded: {type: "keep", urls: [...]};
// the answer, on the message's port, is {kept: true} once every one of them is in the cache.
self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type !== "keep" || !Array.isArray(data.urls)) return;
  const port = event.ports[0];
  event.waitUntil(keep(data.urls).then((kept) => port && port.postMessage({ kept })));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith(STATIC_PREFIX)) {
    event.respondWith(keptFirst(request));
  } else if (PAGES.includes(url.pathname) || DATA.includes(url.pathname)) {
    event.respondWith(networkFirst(request, url));
  }
});

async function precache() {
  const cache = await caches.open(CACHE);
  await cache.addAll(PRECACHE.map((url) => new Request(url, { cache: "reload" })));
  try {
    await store(cache, SHELL);
  } catch (error) {
    // not a page of its own yet (a redirect) or no network: kept on a later visit
  }
}

function keepable(response) {
  return response.ok && response.type === "basic" && !response.redirected;
}

async function store(cache, url) {
  const response = await fetch(new Request(url, { cache: "reload", credentials: "same-origin" }));
  if (!keepable(response)) throw new Error(`not kept: ${url} answered ${response.status}`);
  await cache.put(url, response);
}

function worthKeeping(url) {
  return url.origin === self.location.origin && (url.pathname.startsWith(STATIC_PREFIX)
    || PAGES.includes(url.pathname) || DATA.includes(url.pathname));
}

async function keep(urls) {
  const cache = await caches.open(CACHE);
  let kept = true;
  for (const text of urls) {
    const url = new URL(text, self.location.href);
    if (!worthKeeping(url) || await cache.match(url.href)) continue;
    try {
      await store(cache, url.href);
    } catch (error) {
      kept = false;
    }
  }
  return kept;
}

async function keptFirst(request) {
  const cache = await caches.open(CACHE);
  return (await cache.match(request)) || fetch(request);
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms, null));
}

async function networkFirst(request, url) {
  const cache = await caches.open(CACHE);
  const network = fetch(request).then(async (response) => {
    if (keepable(response)) {
      await cache.put(request, response.clone());
      await trim(cache, url.pathname);
    }
    return response;
  });
  network.catch(() => null);  // answered from the cache below; nothing left unhandled
  const offline = async () => (await cache.match(request)) || (await fallback(cache, url));
  try {
    const response = await Promise.race([network, delay(NETWORK_WAIT_MS)]);
    return response || (await offline()) || (await network);
  } catch (error) {
    const kept = await offline();
    if (kept) return kept;
    throw error;
  }
}

// No copy of this very URL: a card link opens the card kept last (its names show whose it
// is), any planner URL the planner shell.
async function fallback(cache, url) {
  if (url.pathname === CARD_PAGE) {
    const keys = (await cache.keys()).filter((key) => {
      const kept = new URL(key.url);
      return kept.pathname === CARD_PAGE && kept.searchParams.get("c");
    });
    return keys.length ? cache.match(keys[keys.length - 1]) : undefined;
  }
  return url.pathname === SHELL ? cache.match(SHELL) : undefined;
}

async function trim(cache, path) {
  const keys = (await cache.keys()).filter((key) => new URL(key.url).pathname === path);
  for (const key of keys.slice(0, Math.max(0, keys.length - MAX_KEPT_PER_PATH))) {
    await cache.delete(key);
  }
}
