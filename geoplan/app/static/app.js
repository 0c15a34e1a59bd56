// geoplan serve: the run page's progress bar (polls the run's status; no other script runs).
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box || box.dataset.status !== "running") return;
  var bar = document.getElementById("progress-bar");
  var stage = document.getElementById("progress-stage");
  var count = document.getElementById("progress-count");
  var error = document.getElementById("progress-error");
  var result = document.getElementById("progress-result");
  var title = document.getElementById("progress-title");

  function poll() {
    fetch(box.dataset.statusUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.json(); })
      .then(function (state) {
        bar.max = state.total;
        bar.value = state.done;
        stage.textContent = state.stage_label;
        count.textContent = state.done + "/" + state.total;
        box.dataset.status = state.status;
        if (state.status === "running") {
          window.setTimeout(poll, 700);
          return;
        }
        if (state.status === "failed") {
          error.textContent = state.error;
          error.hidden = false;
          title.textContent = title.dataset.failed || title.textContent;
        }
        // finished or failed: reload, so the page says it in its own words
        window.location.reload();
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 500);
})();
