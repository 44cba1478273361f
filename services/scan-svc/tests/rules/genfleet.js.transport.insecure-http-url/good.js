export function items() {
  return fetch("/api/items");
}
