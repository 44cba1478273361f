export function render(el, note) {
  el.textContent = note.text;
}
