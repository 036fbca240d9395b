// Upload page: drag and drop, one request per file with a progress bar and a receipt each.
// Without this script the form posts all chosen files at once and the server answers with the receipts.
(function () {
  "use strict";
  var form = document.getElementById("upload");
  if (!form || !window.FormData || !window.XMLHttpRequest) { return; }
  var zone = document.getElementById("dropzone");
  var input = document.getElementById("files");
  var list = document.getElementById("receipts");
  var dropped = [];

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function chosenFiles() {
    return dropped.concat(Array.prototype.slice.call(input.files || []));
  }

  function showPending() {
    var names = chosenFiles().map(function (f) { return f.name; });
    zone.setAttribute("data-count", String(names.length));
    var note = zone.querySelector(".pending") || zone.appendChild(element("p", "pending"));
    note.textContent = names.join(", ");
    input.required = names.length === 0;
  }

  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () { zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    dropped = dropped.concat(Array.prototype.slice.call(event.dataTransfer.files || []));
    showPending();
  });
  input.addEventListener("change", showPending);

  function receipt(item, body, status) {
    item.className = "receipt " + (body && body.id ? "good" : "bad");
    var bar = item.querySelector("progress");
    if (bar) { bar.remove(); }
    if (body && body.id) {
      var label = body.duplicate ? list.dataset.labelDuplicate : list.dataset.labelFiled;
      item.appendChild(element("span", "badge good", label));
      item.appendChild(document.createTextNode(" "));
      var link = element("a", "", body.id);
      link.href = list.dataset.documentUrl.replace("ID", encodeURIComponent(body.id));
      item.appendChild(link);
      item.appendChild(document.createTextNode(" "));
      item.appendChild(element("code", "", body.checksum));
    } else {
      item.appendChild(element("span", "badge bad", list.dataset.labelFailed));
      item.appendChild(document.createTextNode(" " + ((body && (body.error || body.detail)) || ("HTTP " + status))));
    }
  }

  function send(file) {
    var item = list.appendChild(element("li", "receipt"));
    item.appendChild(element("strong", "", file.name + " "));
    var bar = item.appendChild(element("progress"));
    bar.max = 100; bar.value = 0;
    var data = new FormData(form);
    data.delete("file");
    data.append("file", file, file.name);
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) { bar.value = Math.round(100 * event.loaded / event.total); }
    });
    request.addEventListener("load", function () {
      var body = null;
      try { body = JSON.parse(request.responseText); } catch (e) { body = null; }
      var first = body && body.receipts ? body.receipts[0] : body;
      receipt(item, first, request.status);
    });
    request.addEventListener("error", function () { receipt(item, null, 0); });
    request.send(data);
  }

  form.addEventListener("submit", function (event) {
    var files = chosenFiles();
    if (files.length === 0) { return; }
    event.preventDefault();
    files.forEach(send);
    dropped = [];
    input.value = "";
    showPending();
  });
}());
