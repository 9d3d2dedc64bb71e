// The "Member cards" run page: polls the run's status and shows its progress; reloads the
// page once the run has finished, so the server renders the results and download links.
(function () {
  "use strict";
  const panel = document.getElementById("card-run");
  if (!panel || panel.dataset.state !== "running") return;
  const bar = document.getElementById("run-progress");
  const stage = document.getElementById("run-stage");
  function poll() {
    fetch(panel.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => response.ok ? response.json() : Promise.reject(response.status))
      .then((status) => {
        if (status.state !== "running") {
          window.location.reload();
          return;
        }
        bar.max = status.total || 1;
        bar.value = status.done;
        stage.textContent = "Working: " + status.stage
          + (status.total ? " (" + status.done + " of " + status.total + ")" : "") + "…";
        window.setTimeout(poll, 400);
      })
      .catch(() => window.setTimeout(poll, 2000));
  }
  window.setTimeout(poll, 200);
})();
