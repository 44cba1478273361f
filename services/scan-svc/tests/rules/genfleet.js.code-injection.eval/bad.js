export function run(code) {
  return new Function("x", code);
}
