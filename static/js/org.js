/* Small behaviours of the organisation's pages (an ES module, no build step):
 *   - the overview: a click anywhere on a board's row opens the board (its name is the link);
 *   - the global board's filters: a changed choice applies at once, and empty fields stay out
 *     of the URL so that a filtered view is short to share;
 *   - the stand-up: the days choice applies at once; the Print button prints.
 */

// --- overview rows -------------------------------------------------------------------------
document.querySelectorAll("tr[data-href]").forEach((row) => {
  row.addEventListener("click", (event) => {
    if (event.target.closest("a, button, input, select")) return; // a link of its own
    if (window.getSelection && String(window.getSelection())) return; // selecting text
    if (event.ctrlKey || event.metaKey) window.open(row.dataset.href, "_blank");
    else window.location.assign(row.dataset.href);
  });
});

// --- filter forms that apply on change --------------------------------------------------------
function submitClean(form) {
  // Leave empty fields out of the query string: ?blocked=true rather than ?q=&team=&...
  const disabled = [];
  for (const field of form.elements) {
    if (field.name && !field.disabled && field.value === "" && field.type !== "checkbox") {
      field.disabled = true;
      disabled.push(field);
    }
  }
  form.submit();
  // Back/forward may restore this page from the cache: give the fields back.
  setTimeout(() => disabled.forEach((f) => (f.disabled = false)), 0);
}

document.querySelectorAll("form.global-filters, form.days-form").forEach((form) => {
  form.addEventListener("change", (event) => {
    if (event.target.matches("select, input[type=checkbox]")) submitClean(form);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitClean(form);
  });
});

document.querySelectorAll("[data-action=print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});
