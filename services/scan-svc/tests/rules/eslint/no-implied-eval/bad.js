export function later(code) {
  setTimeout("run(" + code + ")", 100);
}
