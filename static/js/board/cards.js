/* The cards on the page: put one at an index, take one off, fetch its fragment again (the
 * server renders cards: templates/boards/_card.html), and the WIP counts in the column heads.
 * The live client (live.js) and the page's own writes change cards only through these. */

import { fetchFragment } from "../lib/api.js";
import { boardEl, boardId, cardEl, cellEl, insertAt, listOf, page } from "./context.js";
import { currentFilters, matches, updateCount } from "./filters.js";

/** Fired on the board element when a card leaves the page (detail: {cardId}). */
export const CARD_REMOVED = "obeya:card-removed";
/** Fired on the board element by the live client for each event about a card (detail: {card,
 * actor, type}: the card as the event carries it, with its version). */
export const CARD_CHANGED = "obeya:card-changed";

export function placeCard(cardId, columnId, swimlaneId, position) {
  const card = cardEl(cardId);
  const cell = cellEl(columnId, swimlaneId);
  if (!card || !cell) return false;
  insertAt(listOf(cell), card, position);
  recomputeWip();
  return true;
}

export function removeCard(cardId) {
  const card = cardEl(cardId);
  if (card) card.remove();
  recomputeWip();
  updateCount();
  boardEl.dispatchEvent(new CustomEvent(CARD_REMOVED, { detail: { cardId: Number(cardId) } }));
}

export async function refreshCard(cardId) {
  const { response, content } = await fetchFragment(
    `/boards/${boardId}/cards/${Number(cardId)}/fragment/`,
  );
  if (response.status === 404) {
    removeCard(cardId);
    return null;
  }
  const fresh = content && content.querySelector(".card");
  if (!fresh) return null;
  const old = cardEl(cardId);
  fresh.hidden = !matches(fresh, currentFilters());
  if (old) {
    const hadFocus = document.activeElement === old;
    if (old.classList.contains("is-grabbed")) fresh.classList.add("is-grabbed");
    old.replaceWith(fresh);
    if (hadFocus) fresh.focus({ preventScroll: true });
  } else {
    const cell = cellEl(
      response.headers.get("X-Card-Column"),
      response.headers.get("X-Card-Swimlane"),
    );
    if (!cell) return null;
    insertAt(listOf(cell), fresh, Number(response.headers.get("X-Card-Position")));
  }
  recomputeWip();
  updateCount();
  return fresh;
}

// --- WIP ---------------------------------------------------------------------------------------

export function setWip(columnId, wip) {
  const head = boardEl.querySelector(`.column-head[data-column-id="${Number(columnId)}"]`);
  if (!head) return;
  head.querySelector(".wip-n").textContent = String(wip);
  const limit = head.dataset.wipLimit ? Number(head.dataset.wipLimit) : null;
  head.classList.toggle("at-limit", limit !== null && wip >= limit);
  head.classList.toggle("over-limit", limit !== null && wip > limit);
}

export function recomputeWip() {
  for (const column of page.columns) {
    const wip = boardEl.querySelectorAll(`.cell[data-column-id="${column.id}"] .card`).length;
    setWip(column.id, wip);
  }
  for (const lane of boardEl.querySelectorAll(".lane")) {
    lane.querySelector(".lane-count").textContent = String(lane.querySelectorAll(".card").length);
  }
}

export function wipOf(columnId) {
  const head = boardEl.querySelector(`.column-head[data-column-id="${columnId}"]`);
  return {
    wip: Number(head.querySelector(".wip-n").textContent),
    limit: head.dataset.wipLimit ? Number(head.dataset.wipLimit) : null,
    hard: head.dataset.wipPolicy === "hard",
  };
}

// --- the seq the page reflects -------------------------------------------------------------------

export function currentSeq() {
  return Number(boardEl.dataset.seq || 0);
}

export function noteSeq(seq) {
  if (typeof seq === "number" && seq > currentSeq()) boardEl.dataset.seq = String(seq);
}
