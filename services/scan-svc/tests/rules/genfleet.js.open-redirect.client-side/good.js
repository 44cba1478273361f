export function afterLogin() {
  const params = new URLSearchParams(window.location.search);
  const next = params.get("next");
  console.log("logged in, next was", next);
  window.location.href = "/dashboard";
}
