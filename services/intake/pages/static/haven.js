// Haven's progressive enhancement: every page works without this file.
(function () {
  "use strict";
  var body = document.body;
  var exitUrl = body.getAttribute("data-quick-exit");

  // Quick exit: the button or Escape twice within a second. location.replace swaps
  // this page's history entry for the neutral site, so Back does not return here.
  function quickExit(event) {
    if (event) { event.preventDefault(); }
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

  // Live statuses over server-sent events: rows and the status line update in place.
  var live = document.querySelector("[data-live]");
  if (live && window.EventSource) {
    var source = new EventSource(live.getAttribute("data-live"));
    source.addEventListener("status", function (message) {
      var data = JSON.parse(message.data);
      var cells = document.querySelectorAll(
        '[data-referral="' + data.id + '"] .status, [data-referral-status="' + data.id + '"]');
      cells.forEach(function (cell) {
        if (cell.getAttribute("data-status") === data.status) { return; }
        cell.setAttribute("data-status", data.status);
        cell.textContent = data.label;
        cell.classList.add("updated");
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
