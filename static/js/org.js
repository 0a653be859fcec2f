/* Small behaviours of the organisation's pages (an ES module, no build step):
 *   - the overview: a click anywhere on a board's row opens the board (its name is the link);
 *   - the global board's filters: a changed choice applies at once, and empty fields stay out
 *     of the URL so that a filtered view is short to share;
 *   - the stand-up: the days choice applies at once; the Print button prints; on the wall it
 *     renders again when the board changes (its websocket) and every five minutes (its clock).
 */

import { LiveSocket } from "./lib/socket.js";

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

// --- the stand-up on a wall screen ------------------------------------------------------------
// No <meta http-equiv=refresh> (axe: a timed refresh takes the page away from someone reading
// it): the page renders again a moment after the board changes, and every five minutes so that
// "as of" and the ages stay true on a quiet board.
const wallStandup = document.querySelector("body.wall .standup[data-board-id]");
if (wallStandup) {
  const RELOAD_AFTER_CHANGE_MS = 1500;
  const RELOAD_EVERY_MS = 5 * 60 * 1000;
  const shownSeq = Number(wallStandup.dataset.seq);
  let timer = setTimeout(() => window.location.reload(), RELOAD_EVERY_MS);
  const reloadSoon = () => {
    clearTimeout(timer);
    timer = setTimeout(() => window.location.reload(), RELOAD_AFTER_CHANGE_MS);
  };
  const socket = new LiveSocket(`/ws/boards/${wallStandup.dataset.boardId}/`, {
    onMessage(event) {
      if (event.type === "hello" || event.type === "pong") {
        if (typeof event.seq === "number" && event.seq > shownSeq) reloadSoon();
      } else if (event.type === "snapshot" || typeof event.seq === "number") {
        reloadSoon();
      }
    },
  });
  socket.connect();
}
