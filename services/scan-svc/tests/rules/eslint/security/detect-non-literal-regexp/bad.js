export function matcher(query) {
  return new RegExp(query);
}
