"use strict";

const list = document.querySelector("#task-list");
const message = document.querySelector("#message");
const filter = document.querySelector("#filter");
const search = document.querySelector("#search");

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

function taskItem(task) {
  const item = document.createElement("li");
  item.classList.toggle("done", task.done);

  const checkbox = document.createElement("input");
  checkbox.type = "checkbox";
  checkbox.checked = task.done;
  checkbox.setAttribute("aria-label", `Mark "${task.title}" as done`);
  checkbox.addEventListener("change", () =>
    run(() => request(`/api/tasks/${task.id}`, { method: "PATCH", body: { done: checkbox.checked } })),
  );

  const title = document.createElement("span");
  title.className = "title";
  title.textContent = task.title;

  const badge = document.createElement("span");
  badge.className = "badge";
  badge.textContent = task.priority;

  item.append(checkbox, title, badge);
  return item;
}

async function refresh() {
  const query = search.value.trim();
  let tasks;
  if (query) {
    tasks = await request(`/api/tasks/search?q=${encodeURIComponent(query)}`);
    if (filter.value) tasks = tasks.filter((t) => t.done === (filter.value === "done"));
  } else {
    const params = filter.value ? `?status=${filter.value}` : "";
    tasks = await request(`/api/tasks${params}`);
  }
  list.replaceChildren(...tasks.map(taskItem));
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

document.querySelector("#new-task").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const data = new FormData(form);
  run(async () => {
    await request("/api/tasks", {
      method: "POST",
      body: { title: data.get("title"), priority: data.get("priority") },
    });
    form.reset();
  });
});

filter.addEventListener("change", () => run(async () => {}));
search.addEventListener("input", () => run(async () => {}));

run(async () => {});
