"use strict";

const notes = document.querySelector("#notes");
const message = document.querySelector("#message");
const searchForm = document.querySelector("#search");
const share = document.querySelector("#share");

async function request(path, { method = "GET", body } = {}) {
  const response = await fetch(path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) {
    const data = await response.json().catch(() => null);
    throw new Error(data?.error ?? `${method} ${path} failed (${response.status})`);
  }
  return response.status === 204 ? null : response.json();
}

function noteArticle(note) {
  const article = document.createElement("article");

  const header = document.createElement("header");
  const author = document.createElement("strong");
  author.textContent = note.author;
  const time = document.createElement("time");
  time.dateTime = note.created_at;
  time.textContent = ` · ${note.created_at}`;
  header.append(author, time);

  const text = document.createElement("p");
  text.textContent = note.message;

  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = "Delete";
  remove.addEventListener("click", () =>
    run(() => request(`/api/notes/${note.id}`, { method: "DELETE" })),
  );

  article.append(header, text, remove);
  return article;
}

async function refresh() {
  const query = new FormData(searchForm).get("q").trim();
  share.href = `/search?q=${encodeURIComponent(query)}`;
  const items = query
    ? await request(`/api/search?q=${encodeURIComponent(query)}`)
    : await request("/api/notes");
  if (items.length === 0) {
    const empty = document.createElement("p");
    empty.textContent = query ? "No notes match your search." : "Be the first to sign!";
    notes.replaceChildren(empty);
  } else {
    notes.replaceChildren(...items.map(noteArticle));
  }
}

async function run(action) {
  try {
    await action();
    message.textContent = "";
    await refresh();
  } catch (error) {
    message.textContent = error.message;
  }
}

document.querySelector("#sign").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const data = new FormData(form);
  run(async () => {
    await request("/api/notes", {
      method: "POST",
      body: { author: data.get("author"), message: data.get("message") },
    });
    form.reset();
  });
});

searchForm.addEventListener("submit", (event) => {
  event.preventDefault();
  run(async () => {});
});

run(async () => {});
