export function items() {
  return fetch("http://api.shop.example.org/items");
}
