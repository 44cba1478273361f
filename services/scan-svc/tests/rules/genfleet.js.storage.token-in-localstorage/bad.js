export async function login(username, password) {
  const response = await fetch("/api/login", {
    method: "POST",
    body: JSON.stringify({ username, password }),
  });
  const { token } = await response.json();
  localStorage.setItem("authToken", token);
}
