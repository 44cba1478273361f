// Task Tracker frontend logic
var API_URL = "/api/tasks";
var currentFilter = "";

function showError(msg) {
  document.getElementById("errorMsg").textContent = msg;
}

function loadTasks() {
  var url = API_URL;
  if (currentFilter) {
    url = API_URL + "?status=" + currentFilter;
  }
  fetch(url)
    .then(function (res) { return res.json(); })
    .then(function (tasks) { displayTasks(tasks); })
    .catch(function (err) { showError("Failed to load tasks: " + err); });
}

function displayTasks(tasks) {
  var list = document.getElementById("taskList");
  while (list.firstChild) {
    list.removeChild(list.firstChild);
  }
  tasks.forEach(function (task) {
    var li = document.createElement("li");
    if (task.done) li.className = "done";

    var checkbox = document.createElement("input");
    checkbox.type = "checkbox";
    checkbox.checked = task.done;
    checkbox.onchange = function () { toggleTask(task.id, checkbox.checked); };

    var title = document.createElement("span");
    title.className = "title";
    title.textContent = " " + task.title + " ";

    var priority = document.createElement("span");
    priority.className = "priority-" + task.priority;
    priority.textContent = "[" + task.priority + "]";

    var deleteBtn = document.createElement("button");
    deleteBtn.textContent = "Delete";
    deleteBtn.onclick = function () { deleteTask(task.id); };

    li.appendChild(checkbox);
    li.appendChild(title);
    li.appendChild(priority);
    li.appendChild(deleteBtn);
    list.appendChild(li);
  });
}

function addTask() {
  var title = document.getElementById("taskTitle").value;
  var priority = document.getElementById("taskPriority").value;
  if (!title) {
    showError("Please enter a task title");
    return;
  }
  fetch(API_URL, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ title: title, priority: priority }),
  })
    .then(function (res) { return res.json(); })
    .then(function () {
      document.getElementById("taskTitle").value = "";
      showError("");
      loadTasks();
    });
}

function toggleTask(id, done) {
  fetch(API_URL + "/" + id, {
    method: "PATCH",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ done: done }),
  }).then(loadTasks);
}

function deleteTask(id) {
  fetch(API_URL + "/" + id, { method: "DELETE" }).then(loadTasks);
}

function setFilter(filter) {
  currentFilter = filter;
  loadTasks();
}

function searchTasks() {
  var q = document.getElementById("searchBox").value;
  if (!q) {
    loadTasks();
    return;
  }
  fetch(API_URL + "/search?q=" + encodeURIComponent(q))
    .then(function (res) { return res.json(); })
    .then(function (tasks) { displayTasks(tasks); });
}

loadTasks();
