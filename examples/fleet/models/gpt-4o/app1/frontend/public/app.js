const taskList = document.getElementById("tasks");
const errorBox = document.getElementById("error");

async function api(path, options = {}) {
  const res = await fetch(path, {
    headers: { "Content-Type": "application/json" },
    ...options,
  });
  if (!res.ok && res.status !== 204) {
    const body = await res.json().catch(() => ({}));
    throw new Error(body.error || `HTTP ${res.status}`);
  }
  return res.status === 204 ? null : res.json();
}

function renderTasks(tasks) {
  taskList.replaceChildren();
  for (const task of tasks) {
    const li = document.createElement("li");
    li.className = task.done ? "done" : "";

    const checkbox = document.createElement("input");
    checkbox.type = "checkbox";
    checkbox.checked = task.done;
    checkbox.addEventListener("change", () => toggleTask(task.id, checkbox.checked));

    const title = document.createElement("span");
    title.textContent = task.title;

    const priority = document.createElement("span");
    priority.className = "priority";
    priority.textContent = task.priority;

    const del = document.createElement("button");
    del.textContent = "Delete";
    del.addEventListener("click", () => deleteTask(task.id));

    li.append(checkbox, title, priority, del);
    taskList.appendChild(li);
  }
}

async function loadTasks() {
  try {
    const q = document.getElementById("search").value.trim();
    const tasks = q
      ? await api(`/api/tasks/search?q=${encodeURIComponent(q)}`)
      : await api("/api/tasks");
    renderTasks(tasks);
    errorBox.textContent = "";
  } catch (err) {
    errorBox.textContent = err.message;
  }
}

async function toggleTask(id, done) {
  await api(`/api/tasks/${id}`, { method: "PATCH", body: JSON.stringify({ done }) });
  loadTasks();
}

async function deleteTask(id) {
  await api(`/api/tasks/${id}`, { method: "DELETE" });
  loadTasks();
}

document.getElementById("task-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const title = document.getElementById("title");
  const priority = document.getElementById("priority");
  try {
    await api("/api/tasks", {
      method: "POST",
      body: JSON.stringify({ title: title.value, priority: priority.value }),
    });
    title.value = "";
    loadTasks();
  } catch (err) {
    errorBox.textContent = err.message;
  }
});

document.getElementById("search").addEventListener("input", loadTasks);

loadTasks();
