// The viewer's subset and split pickers: choosing an option opens its URL (no inline
// handlers: the pages' Content-Security-Policy allows scripts from this server only).
document.addEventListener("DOMContentLoaded", () => {
  for (const select of document.querySelectorAll("select.nav-select")) {
    select.addEventListener("change", () => {
      window.location.assign(select.value);
    });
  }
});
