// Haven's progressive enhancement: every page works without this file.
(function () {
  "use strict";
  var body = document.body;
  var exitUrl = body.getAttribute("data-quick-exit");

  // Quick exit: the button or Escape twice within a second. location.replace swaps
  // this page's history entry for the neutral site, so Back does not return here.
  // A beacon (sent even as the page goes) ends the session on the server too.
  function quickExit(event) {
    if (event) { event.preventDefault(); }
    var csrf = document.querySelector('form.sign-out input[name="csrf"]');
    if (csrf && navigator.sendBeacon) {
      var form = new FormData();
      form.append("csrf", csrf.value);
      navigator.sendBeacon("/quick-exit", form);
    }
    document.title = "";
    body.innerHTML = "";
    window.location.replace(exitUrl);
  }
  var button = document.getElementById("quick-exit");
  if (button) { button.addEventListener("click", quickExit); }
  var lastEscape = 0;
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var now = Date.now();
    if (now - lastEscape < 1000) { quickExit(event); }
    lastEscape = now;
  });

  // Live statuses over server-sent events: every element marked data-status-of="<id>"
  // shows the new label; a closed offer loses its answer form; a new open offer is
  // announced (not inserted, so nobody loses a note they are typing).
  var live = document.querySelector("[data-live]");
  if (live && window.EventSource) {
    var source = new EventSource(live.getAttribute("data-live"));
    source.addEventListener("status", function (message) {
      var data = JSON.parse(message.data);
      var cells = document.querySelectorAll('[data-status-of="' + data.id + '"]');
      var banner = document.getElementById(live.getAttribute("data-announce-new") || "");
      if (!cells.length && banner && data.status === "open") { banner.hidden = false; }
      cells.forEach(function (cell) {
        if (cell.getAttribute("data-status") === data.status) { return; }
        cell.setAttribute("data-status", data.status);
        cell.textContent = data.label;
        cell.classList.add("updated");
        var card = cell.closest("[data-offer-status]");
        if (card) {
          card.setAttribute("data-offer-status", data.status);
          var form = card.querySelector("form.answer");
          if (form && data.status !== "open") { form.hidden = true; }
        }
      });
    });
  }

  // The survivor-contact details only matter when that consent is given.
  var survivor = document.querySelector('input[name="consent_survivor"]');
  var panel = document.getElementById("survivor");
  if (survivor && panel) {
    var sync = function () { panel.hidden = !survivor.checked; };
    survivor.addEventListener("change", sync);
    sync();
  }

  // After a failed submit, take keyboard and screen-reader users to the list of problems.
  var problems = document.getElementById("problems");
  if (problems) { problems.focus(); }
})();
