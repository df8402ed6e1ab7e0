// The review queue: decide with the keyboard or the buttons. A accepts, R rejects, J/K (or the
// arrow keys) move. Each decision is a POST to the same API a script would call, with the
// session's CSRF token; the row shows the outcome and the focus moves to the next undecided one.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var status = document.getElementById("review-status");
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-label]"));
  var current = 0;

  function focus(i) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r, k) { r.classList.toggle("current", k === current); });
    rows[current].focus({ preventScroll: false });
  }

  function nextUndecided(from) {
    for (var i = from; i < rows.length; i++) {
      if (!rows[i].classList.contains("decided")) return i;
    }
    return from;
  }

  function decide(row, decision) {
    if (!row || row.classList.contains("decided") || row.classList.contains("busy")) return;
    var id = row.getAttribute("data-label");
    row.classList.add("busy");
    fetch("/api/v1/labels/" + encodeURIComponent(id) + "/" + decision, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json" }
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (res) {
      row.classList.remove("busy");
      if (!res.ok) {
        status.textContent = (res.body && res.body.error) || "failed";
        status.className = "error";
        return;
      }
      var cell = row.querySelector(".status");
      cell.textContent = "human-" + res.body.decision;
      cell.className = "status human-" + res.body.decision;
      row.classList.add("decided");
      status.className = "muted";
      status.textContent = id + ": human-" + res.body.decision + " (" + res.body.by + ")";
      focus(nextUndecided(rows.indexOf(row) + 1));
    }).catch(function (e) {
      row.classList.remove("busy");
      status.textContent = String(e);
      status.className = "error";
    });
  }

  rows.forEach(function (row, i) {
    row.addEventListener("click", function (ev) {
      var b = ev.target.closest("button[data-decision]");
      if (b) { focus(i); decide(row, b.getAttribute("data-decision")); }
    });
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var tag = (ev.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select") return;
    var k = ev.key.toLowerCase();
    if (k === "j" || k === "arrowdown") { focus(current + 1); ev.preventDefault(); }
    else if (k === "k" || k === "arrowup") { focus(current - 1); ev.preventDefault(); }
    else if (k === "a") { decide(rows[current], "accept"); ev.preventDefault(); }
    else if (k === "r") { decide(rows[current], "reject"); ev.preventDefault(); }
  });

  focus(0);
})();
