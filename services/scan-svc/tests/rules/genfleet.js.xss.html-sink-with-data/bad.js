export function render(el, note) {
  el.innerHTML = `<p>${note.text}</p>`;
}
