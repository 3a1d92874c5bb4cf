// Swagger UI over our own /openapi.json; a file, not an inline script, so the CSP can forbid inline code.
window.addEventListener("load", function () {
  var node = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: node.dataset.spec,
    dom_id: "#swagger-ui",
    onComplete: function () {
      // Swagger UI renders its list of operations as a <main>, inside our page's <main>: two main
      // landmarks confuse screen readers, so its own becomes a named region.
      // Its title is an <h1>, under our page's <h1>: it becomes a level-2 heading for assistive technology.
      var title = node.querySelector(".info h1");
      if (title) { title.setAttribute("aria-level", "2"); }
      var operations = document.getElementById("operations");
      if (operations) {
        operations.setAttribute("role", "region");
        operations.setAttribute("aria-label", node.dataset.operationsLabel);
      }
    },
  });
});
