// Swagger UI over our own /openapi.json; a file, not an inline script, so the CSP can forbid inline code.
window.addEventListener("load", function () {
  var node = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({ url: node.dataset.spec, dom_id: "#swagger-ui" });
});
