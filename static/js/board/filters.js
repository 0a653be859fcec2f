/* The board's filters (text, person, label, blocked): applied in the page as they change, and
 * kept in the URL so that a filtered board can be shared. The same rules as Filters.matches in
 * boards/pages/views.py, which renders the first view. */

import { boardEl } from "./context.js";

const filterForm = document.querySelector("form.filters");
const mine = document.getElementById("filter-mine");
const clearLink = filterForm ? filterForm.querySelector(".clear") : null;

export function currentFilters() {
  const f = filterForm.elements;
  return {
    q: f.q.value.trim().toLowerCase(),
    assignee: f.assignee.value,
    label: f.label.value,
    blocked: f.blocked.checked,
  };
}

export function matches(card, f) {
  if (f.blocked && card.dataset.blocked !== "true") return false;
  if (f.assignee && !card.dataset.assignees.split(" ").includes(f.assignee)) return false;
  if (f.label && !card.dataset.labels.split(" ").includes(f.label)) return false;
  if (f.q) {
    const title = card.querySelector(".card-title").textContent.trim();
    const haystack = `${title} ${card.dataset.customer || ""} #${card.dataset.cardId}`.toLowerCase();
    return f.q.split(/\s+/).every((word) => haystack.includes(word));
  }
  return true;
}

function isActive(f) {
  return Boolean(f.q || f.assignee || f.label || f.blocked);
}

// What the filters ask for, in words: “xyz”, Bob Martin, label migration, blocked.
function describe(f) {
  const el = filterForm.elements;
  const parts = [];
  if (f.q) parts.push(`“${el.q.value.trim()}”`);
  if (f.assignee) parts.push(`assigned to ${el.assignee.selectedOptions[0].textContent.trim()}`);
  if (f.label) parts.push(`label ${el.label.selectedOptions[0].textContent.trim()}`);
  if (f.blocked) parts.push("blocked");
  return parts.join(", ");
}

export function updateCount() {
  const all = boardEl.querySelectorAll(".card");
  const f = currentFilters();
  const shown = Array.from(all).filter((c) => !c.hidden).length;
  document.getElementById("filter-count").textContent = isActive(f)
    ? `${shown} of ${all.length} cards`
    : `${all.length} cards`;
  // A filter that hides every card says so, rather than showing an empty board.
  const empty = document.getElementById("filter-empty");
  if (!empty) return;
  empty.hidden = !(isActive(f) && shown === 0 && all.length > 0);
  if (!empty.hidden) empty.querySelector(".filter-empty-text").textContent = `No cards match ${describe(f)}`;
}

export function applyFilters() {
  const f = currentFilters();
  for (const card of boardEl.querySelectorAll(".card")) card.hidden = !matches(card, f);
  mine.checked = f.assignee !== "" && f.assignee === mine.dataset.me;
  clearLink.hidden = !isActive(f);
  updateCount();
  const params = new URLSearchParams(window.location.search);
  for (const [name, value] of [
    ["q", filterForm.elements.q.value.trim()],
    ["assignee", f.assignee],
    ["label", f.label],
    ["blocked", f.blocked ? "true" : ""],
  ]) {
    if (value) params.set(name, value);
    else params.delete(name);
  }
  const query = params.toString();
  const url = window.location.pathname + (query ? `?${query}` : "") + window.location.hash;
  window.history.replaceState(window.history.state, "", url);
}

export function enableFilters() {
  let filterTimer = null;
  filterForm.addEventListener("input", (event) => {
    if (event.target === mine) return;
    window.clearTimeout(filterTimer);
    filterTimer = window.setTimeout(applyFilters, event.target.type === "search" ? 120 : 0);
  });
  filterForm.addEventListener("change", (event) => {
    if (event.target === mine) {
      filterForm.elements.assignee.value = mine.checked ? mine.dataset.me : "";
    }
    applyFilters();
  });
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    applyFilters();
  });
  const clearAll = (event) => {
    event.preventDefault();
    filterForm.reset();
    for (const select of filterForm.querySelectorAll("select")) select.value = "";
    filterForm.elements.q.value = "";
    filterForm.elements.blocked.checked = false;
    applyFilters();
    filterForm.elements.q.focus();
  };
  clearLink.addEventListener("click", clearAll);
  const emptyClear = document.querySelector("#filter-empty .filter-empty-clear");
  if (emptyClear) emptyClear.addEventListener("click", clearAll);
}
