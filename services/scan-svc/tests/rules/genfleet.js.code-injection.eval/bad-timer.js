export function later(name) {
  setTimeout("refresh('" + name + "')", 100);
}
