export function later(fn) {
  setTimeout(() => fn(), 100);
}
