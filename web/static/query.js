// The query page: YASGUI pointed at this server's /sparql, offline.
//
// What differs from YASGUI's defaults, and why: no endpoint catalogue of public services and no
// Linked Open Vocabularies lookups (the server may have no internet, and our users query our
// store); class and property completion come from /api/v1/vocabulary instead; the session's CSRF
// token rides on every request so updates work for writers; the named queries open as tabs.
(function () {
  "use strict";
  var root = document.getElementById("yasgui");
  var cfg = JSON.parse(root.getAttribute("data-config"));
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var endpoint = window.location.origin + "/sparql";
  var Yasqe = Yasgui.Yasqe;

  var vocabulary = null;
  function vocab() {
    if (!vocabulary) {
      vocabulary = fetch("/api/v1/vocabulary", { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) throw new Error("vocabulary: HTTP " + r.status);
        return r.json();
      });
    }
    return vocabulary;
  }
  Yasqe.forkAutocompleter("class", {
    name: "stocktakeClass",
    bulk: true,
    persistenceId: null,
    get: function () { return vocab().then(function (v) { return v.classes; }); }
  }, false);
  Yasqe.forkAutocompleter("property", {
    name: "stocktakeProperty",
    bulk: true,
    persistenceId: null,
    get: function () { return vocab().then(function (v) { return v.properties; }); }
  }, false);

  var yasgui = new Yasgui(root, {
    requestConfig: {
      endpoint: endpoint,
      method: "POST",
      headers: { "X-CSRF-Token": csrf }
    },
    copyEndpointOnNewTab: true,
    endpointCatalogueOptions: { getData: function () { return [{ endpoint: endpoint }]; } },
    persistenceId: "stocktake_" + cfg.user,
    yasqe: {
      autocompleters: ["prefixes", "variables", "stocktakeClass", "stocktakeProperty"],
      value: cfg.start
    }
  });

  // Prefixes of the ontology and catalog in every tab's editor.
  function addPrefixes(tab) {
    var y = tab.getYasqe && tab.getYasqe();
    if (y && y.getValue().trim() === "") y.setValue(cfg.start);
  }
  Object.keys(yasgui._tabs).forEach(function (id) { addPrefixes(yasgui._tabs[id]); });

  // The named queries: a list beside the editor; each opens (once) as a tab.
  var list = document.getElementById("named");
  cfg.named.forEach(function (q) {
    var li = document.createElement("li");
    var a = document.createElement("button");
    a.type = "button";
    a.textContent = q.title || q.name;
    a.title = q.description;
    a.addEventListener("click", function () {
      var existing = yasgui.tabNameTaken(q.title || q.name);
      if (existing) { yasgui.selectTabId(existing.getId()); return; }
      yasgui.addTab(true, { name: q.title || q.name, yasqe: { value: q.text } });
    });
    li.appendChild(a);
    list.appendChild(li);
  });
  window.stocktakeYasgui = yasgui;
})();
