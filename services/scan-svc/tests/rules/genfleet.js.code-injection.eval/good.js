export function run(fn) {
  return setTimeout(() => fn(1), 10);
}
