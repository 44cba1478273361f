export function matcher() {
  return new RegExp("^[a-z]+$");
}
