const notesEl = document.getElementById("notes");
const statusEl = document.getElementById("status");

async function fetchJSON(url, options) {
  const response = await fetch(url, options);
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(body.error || `Request failed with ${response.status}`);
  }
  return response.status === 204 ? null : response.json();
}

function renderNotes(notes) {
  if (notes.length === 0) {
    notesEl.textContent = "No notes yet.";
    return;
  }
  notesEl.innerHTML = notes
    .map(
      (note) => `
      <div class="note" data-id="${note.id}">
        <div><strong>${note.author}</strong> wrote:</div>
        <p>${note.message}</p>
        <div class="meta">${note.created_at}
          <button class="delete" data-id="${note.id}">Delete</button>
        </div>
      </div>`
    )
    .join("");
  for (const button of notesEl.querySelectorAll("button.delete")) {
    button.addEventListener("click", () => deleteNote(button.dataset.id));
  }
}

async function loadNotes() {
  const q = document.getElementById("q").value.trim();
  const url = q ? `/api/search?q=${encodeURIComponent(q)}` : "/api/notes";
  document.getElementById("share-link").href = `/search?q=${encodeURIComponent(q)}`;
  try {
    renderNotes(await fetchJSON(url));
    statusEl.textContent = "";
  } catch (err) {
    statusEl.textContent = err.message;
  }
}

async function deleteNote(id) {
  await fetchJSON(`/api/notes/${id}`, { method: "DELETE" });
  loadNotes();
}

document.getElementById("sign-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const author = document.getElementById("author").value;
  const message = document.getElementById("message");
  try {
    await fetchJSON("/api/notes", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ author, message: message.value }),
    });
    message.value = "";
    statusEl.textContent = "Thanks for signing!";
    loadNotes();
  } catch (err) {
    statusEl.textContent = err.message;
  }
});

document.getElementById("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  loadNotes();
});

loadNotes();
