export function poll(refresh) {
  return setInterval(() => {
    if (document.visibilityState === "visible") refresh("page " + 1);
  }, 1000);
}
