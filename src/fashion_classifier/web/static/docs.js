// Swagger UI over our own /openapi.json; a file, not an inline script, so the CSP can forbid inline code.
window.addEventListener("load", function () {
  var node = document.getElementById("swagger-ui");

  // Swagger UI renders markup that fails WCAG checks; each fix below is re-applied whenever it
  // re-renders (opening an operation, "Try it out"), since its components own that markup.
  function repair() {
    // Its title is an <h1> under our page's <h1>: a level-2 heading for assistive technology.
    var title = node.querySelector(".info h1:not([aria-level])");
    if (title) { title.setAttribute("aria-level", "2"); }
    // Its list of operations is a <main> inside our page's <main>: two main landmarks confuse
    // screen readers, so its own becomes a named region.
    var operations = document.getElementById("operations");
    if (operations && operations.getAttribute("role") !== "region") {
      operations.setAttribute("role", "region");
      operations.setAttribute("aria-label", node.dataset.operationsLabel);
    }
    // Scrolling code samples must be reachable by keyboard.
    node.querySelectorAll(".highlight-code pre:not([tabindex])").forEach(function (pre) { pre.tabIndex = 0; });
    // Each operation's table of responses is an unnamed region: six alike are six landmarks that
    // cannot be told apart. Name each after its operation.
    node.querySelectorAll("table.responses-table[role=region]:not([aria-label])").forEach(function (table) {
      var summary = table.closest(".opblock").querySelector(".opblock-summary");
      table.setAttribute("aria-label", node.dataset.responsesLabel + ": " + summary.textContent.trim());
    });
    // Parameter drop-downs have no label: name them after their parameter.
    node.querySelectorAll("tr[data-param-name] select:not([aria-label])").forEach(function (select) {
      select.setAttribute("aria-label", select.closest("tr").dataset.paramName);
    });
  }

  window.SwaggerUIBundle({ url: node.dataset.spec, dom_id: "#swagger-ui", onComplete: repair });
  new MutationObserver(repair).observe(node, { childList: true, subtree: true });
});
