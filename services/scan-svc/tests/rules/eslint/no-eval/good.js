export function calc(expression) {
  return Number.parseFloat(expression);
}
