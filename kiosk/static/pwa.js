// Offline use of the member pages: registers the service worker (/sw.js, see kiosk/pwa.py)
// and asks it to keep this page and what the page loaded from this server (static files,
// the map's data, now and later), so the page opens without a network next time. Says so
// in #offline-status when the page has one, and marks <html data-offline="kept"> once the
// page itself is kept (the browser tests wait for it).
(function () {
  "use strict";
  const script = document.currentScript;
  if (!("serviceWorker" in navigator) || !script || !window.MessageChannel) return;
  const status = document.getElementById("offline-status");
  const origin = `${window.location.origin}/`;

  function say(text) {
    if (!status || !text) return;
    status.textContent = text;
    status.hidden = false;
  }

  // the page's own words (data-offline, data-kept: in the page's language)
  if (!navigator.onLine && status) say(status.dataset.offline);

  // The worker keeps what it is asked to (only its own kinds of URL); calls done once kept.
  function keep(worker, urls, done) {
    const channel = new MessageChannel();
    channel.port1.onmessage = (event) => {
      if (event.data && event.data.kept && done) done();
    };
    worker.postMessage({ type: "keep", urls }, [channel.port2]);
  }

  function kept() {
    document.documentElement.dataset.offline = "kept";
    if (navigator.onLine && status) say(status.dataset.kept);
  }

  function started(registration) {
    // the worker in charge: this page's, or on a first visit the one just started
    const worker = () => navigator.serviceWorker.controller || registration.active;
    keep(worker(), [window.location.href], kept);
    // a new release's worker took over: it keeps this page too (the old cache goes)
    navigator.serviceWorker.addEventListener("controllerchange", () => {
      keep(worker(), [window.location.href], kept);
    });
    if (!window.PerformanceObserver) return;
    new PerformanceObserver((list) => {
      const urls = list.getEntries().map((entry) => entry.name)
        .filter((name) => name.startsWith(origin));
      if (urls.length) keep(worker(), urls);
    }).observe({ type: "resource", buffered: true });
  }

  window.addEventListener("load", () => {
    navigator.serviceWorker.register(script.dataset.worker)
      .then(() => navigator.serviceWorker.ready)
      .then(started)
      .catch(() => {
        // no service worker (plain HTTP other than localhost, private browsing): the page
        // works as before, online only
      });
  });
})();
