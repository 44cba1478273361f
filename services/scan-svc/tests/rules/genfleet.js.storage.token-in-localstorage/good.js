export async function login(username, password) {
  await fetch("/api/login", {
    method: "POST",
    credentials: "include",
    body: JSON.stringify({ username, password }),
  });
  localStorage.setItem("theme", "dark");
}
