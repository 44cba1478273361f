// Guestbook frontend logic
var API_BASE = "/api";

function showError(msg) {
  document.getElementById("errorMsg").textContent = msg;
}

function loadNotes() {
  fetch(API_BASE + "/notes")
    .then(function (res) { return res.json(); })
    .then(function (notes) { displayNotes(notes); })
    .catch(function (err) { showError("Could not load notes: " + err); });
}

function displayNotes(notes) {
  var container = document.getElementById("notes");
  while (container.firstChild) {
    container.removeChild(container.firstChild);
  }
  if (notes.length === 0) {
    container.textContent = "No notes yet.";
    return;
  }
  notes.forEach(function (note) {
    var div = document.createElement("div");
    div.className = "note";

    var author = document.createElement("div");
    author.className = "author";
    author.textContent = note.author;

    var message = document.createElement("div");
    message.textContent = note.message;

    var date = document.createElement("div");
    date.className = "date";
    date.textContent = note.created_at;

    var deleteBtn = document.createElement("button");
    deleteBtn.textContent = "Delete";
    deleteBtn.onclick = function () { deleteNote(note.id); };

    div.appendChild(author);
    div.appendChild(message);
    div.appendChild(date);
    div.appendChild(deleteBtn);
    container.appendChild(div);
  });
}

function signGuestbook() {
  var author = document.getElementById("author").value;
  var message = document.getElementById("message").value;
  fetch(API_BASE + "/notes", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ author: author, message: message }),
  })
    .then(function (res) {
      return res.json().then(function (data) {
        if (!res.ok) throw new Error(data.error);
        return data;
      });
    })
    .then(function () {
      document.getElementById("message").value = "";
      showError("");
      loadNotes();
    })
    .catch(function (err) { showError(err.message); });
}

function deleteNote(id) {
  fetch(API_BASE + "/notes/" + id, { method: "DELETE" }).then(loadNotes);
}

function searchNotes() {
  var q = document.getElementById("searchBox").value;
  if (!q) {
    loadNotes();
    return;
  }
  fetch(API_BASE + "/search?q=" + encodeURIComponent(q))
    .then(function (res) { return res.json(); })
    .then(function (notes) { displayNotes(notes); });
}

function openSearchPage() {
  var q = document.getElementById("searchBox").value;
  window.open("/search?q=" + encodeURIComponent(q), "_blank");
}

loadNotes();
