// esqa serve: progressive enhancement only. Every page works without this
// script; with it, an answer replaces the previous one without a reload, and
// the corpus table filters as you type. No inline script anywhere (the
// Content-Security-Policy forbids it), and no HTML is built from strings:
// the answer is the server's own escaped page, parsed and moved into place.
(function () {
  "use strict";

  function swapAnswer(form, region) {
    var input = form.querySelector("input[name=q]");

    function show(url, push) {
      region.setAttribute("aria-busy", "true");
      return fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" })
        .then(function (response) { return response.text(); })
        .then(function (html) {
          var page = new DOMParser().parseFromString(html, "text/html");
          var fresh = page.getElementById("answer");
          if (!fresh) { window.location.assign(url); return; }
          region.replaceChildren.apply(region, Array.prototype.map.call(
            fresh.childNodes, function (node) { return document.importNode(node, true); }));
          document.title = page.title;
          if (push) { history.pushState({ q: input.value }, "", url); }
          var heading = region.querySelector("h2");
          if (heading) { heading.focus({ preventScroll: true }); }
        })
        .catch(function () { window.location.assign(url); })
        .finally(function () { region.removeAttribute("aria-busy"); });
    }

    form.addEventListener("submit", function (event) {
      if (!input.value.trim()) { return; }  // the server says what is wrong
      event.preventDefault();
      show("/?" + new URLSearchParams(new FormData(form)).toString(), true);
    });
    window.addEventListener("popstate", function () {
      input.value = new URLSearchParams(window.location.search).get("q") || "";
      show(window.location.pathname + window.location.search, false);
    });
  }

  function filterRows(input, table, count) {
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var total = count.textContent;
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      rows.forEach(function (row) {
        var text = row.textContent.toLowerCase();
        var match = words.every(function (w) { return text.indexOf(w) >= 0; });
        row.hidden = !match;
        if (match) { shown += 1; }
      });
      count.textContent = words.length ? shown + " shown on this page" : total;
    });
  }

  var form = document.querySelector("form.ask[action='/']");
  var region = document.getElementById("answer");
  if (form && region && window.fetch && window.DOMParser && region.replaceChildren) {
    swapAnswer(form, region);
  }
  var filter = document.getElementById("filter");
  var table = document.querySelector("table.corpus");
  var count = document.getElementById("count");
  if (filter && table && count) { filterRows(filter, table, count); }
})();
