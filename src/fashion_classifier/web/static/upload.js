// Progressive enhancement of the upload form: drag-and-drop, camera, paste, previews, progress.
// Without JavaScript the form still posts to /upload and the server renders the results.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  var input = document.getElementById("file");
  var zone = document.getElementById("drop-zone");
  var list = document.getElementById("previews");
  var progress = document.getElementById("progress");
  var errorBox = document.getElementById("upload-error");
  var button = document.getElementById("upload-button");
  var chosen = [];

  function showPreviews() {
    list.textContent = "";
    chosen.forEach(function (file, index) {
      var item = document.createElement("li");
      var img = document.createElement("img");
      img.src = URL.createObjectURL(file);
      img.alt = file.name;
      var name = document.createElement("div");
      name.textContent = file.name;
      var remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = list.dataset.remove;
      remove.addEventListener("click", function () { chosen.splice(index, 1); showPreviews(); });
      item.append(img, name, remove);
      list.appendChild(item);
    });
    input.required = chosen.length === 0;
  }

  function addFiles(files) {
    Array.prototype.forEach.call(files, function (file) { chosen.push(file); });
    showPreviews();
  }

  input.addEventListener("change", function () { addFiles(input.files); input.value = ""; });
  var camera = document.getElementById("camera");
  camera.addEventListener("change", function () { addFiles(camera.files); camera.value = ""; });

  // Pasted pictures (Ctrl+V anywhere on the page, or a long press on the paste field on a phone)
  // join the same list as chosen and dropped files, so they take the same upload path.
  var pasteTarget = document.getElementById("paste-target");
  function pastedPictures(clipboard) {
    var pictures = [];
    Array.prototype.forEach.call(clipboard ? clipboard.items : [], function (item) {
      var file = item.kind === "file" && item.type.indexOf("image/") === 0 ? item.getAsFile() : null;
      if (file) { pictures.push(file); }
    });
    return pictures.map(function (file, index) {
      // Browsers name every pasted picture "image.png": give each a name that tells them apart.
      var stamp = new Date().toISOString().replace(/[-:]/g, "").slice(0, 15);
      var suffix = "." + (file.type.split("/")[1] || "png");
      return new File([file], "pasted-" + stamp + (index ? "-" + index : "") + suffix, { type: file.type });
    });
  }
  document.addEventListener("paste", function (event) {
    var pictures = pastedPictures(event.clipboardData);
    if (pictures.length === 0 && event.target !== pasteTarget) { return; }  // ordinary text paste elsewhere
    event.preventDefault();
    pasteTarget.value = "";
    if (pictures.length === 0) { fail(pasteTarget.dataset.noPicture); return; }
    errorBox.hidden = true;
    addFiles(pictures);
  });
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (event) { event.preventDefault(); zone.classList.add("dragging"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    zone.addEventListener(type, function (event) { event.preventDefault(); zone.classList.remove("dragging"); });
  });
  zone.addEventListener("drop", function (event) { addFiles(event.dataTransfer.files); });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (chosen.length === 0) { input.click(); return; }
    var data = new FormData();
    chosen.forEach(function (file) { data.append("file", file, file.name); });
    var request = new XMLHttpRequest();
    request.open("POST", form.dataset.api);
    request.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) { progress.value = Math.round((e.loaded / e.total) * 100); }
    });
    request.addEventListener("load", function () {
      var body = {};
      try { body = JSON.parse(request.responseText); } catch (ignored) { body = {}; }
      if (request.status === 201) {
        var ids = body.predictions.map(function (p) { return p.id; }).join(",");
        window.location.assign(form.dataset.results + "?ids=" + encodeURIComponent(ids));
        return;
      }
      fail(body.error ? body.error.message : "HTTP " + request.status);
    });
    request.addEventListener("error", function () { fail("the server could not be reached; try again"); });
    errorBox.hidden = true;
    progress.hidden = false;
    progress.value = 0;
    button.disabled = true;
    request.send(data);
  });

  function fail(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    progress.hidden = true;
    button.disabled = false;
  }
})();
