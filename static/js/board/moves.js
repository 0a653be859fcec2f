/* Sending a move the page already shows. The server stays the judge: a move lands where it was
 * dropped, and goes back with the server's sentence when the server refuses it (a hard WIP
 * limit, no right to write); owners and admins may pass a hard limit with a reason. */

import { api } from "../lib/api.js";
import { boardEl, cellEl, insertAt, listOf, page, placeName, placeOf } from "./context.js";
import { noteSeq, placeCard, recomputeWip, refreshCard, wipOf } from "./cards.js";
import { announce, hideMessage, showMessage } from "./messages.js";

let lastDragEnd = 0;

/** The click that ends a drag does not open the card (drag.js notes when a drag ends). */
export const noteDragEnd = () => (lastDragEnd = Date.now());
export const justDragged = () => Date.now() - lastDragEnd <= 250;

/** `origin` ({list, index}) is where the card goes back to if the server refuses. */
export async function sendMove(card, target, origin, overrideReason) {
  const id = Number(card.dataset.cardId);
  const body = { column: target.column, swimlane: target.swimlane, position: target.position };
  if (overrideReason) body.override_reason = overrideReason;
  // The column the page showed the card in: if someone moved it meanwhile, the server refuses
  // (409, saying who moved it where) rather than undo their move.
  const from = origin && origin.list && origin.list.closest(".cell");
  if (from) body.expected_column = Number(from.dataset.columnId);
  card.classList.add("is-saving");
  card.setAttribute("aria-busy", "true");
  try {
    const result = await api("POST", `/cards/${id}/move/`, body);
    noteSeq(result.seq);
    const c = result.card;
    // The server clamps a position past the end of a cell: show its answer.
    placeCard(id, c.column, c.swimlane, c.position);
    announce(`${c.title}: moved to ${placeName(c)}, position ${c.position + 1}.`);
    hideMessage();
    refreshCard(id); // its age and ageing cue may have changed with the column
    return true;
  } catch (error) {
    const theirs = error.payload && error.payload.card;
    if (theirs && card.isConnected) {
      placeCard(id, theirs.column, theirs.swimlane, theirs.position); // where it really is
    } else if (origin && card.isConnected) {
      insertAt(origin.list, card, origin.index);
    }
    recomputeWip();
    refused(card, target, origin, error);
    return false;
  } finally {
    card.classList.remove("is-saving");
    card.removeAttribute("aria-busy");
  }
}

function refused(card, target, origin, error) {
  const title = card.querySelector(".card-title").textContent.trim();
  let actions = null;
  if (error.code === "wip_limit_exceeded" && page.isManager) {
    actions = overrideForm(card, target, origin);
  }
  showMessage(`“${title}” was not moved. ${error.message}`, { actions });
  announce(`Not moved. ${error.message}`);
}

/** Owners and admins may pass a hard limit with a reason, which the history records. */
function overrideForm(card, target, origin) {
  const form = document.createElement("form");
  form.className = "override";
  const id = `override-${card.dataset.cardId}`;
  form.innerHTML =
    `<label for="${id}">Pass the limit anyway, because</label>` +
    `<input id="${id}" name="reason" required maxlength="500" placeholder="reason, kept in the history">` +
    `<button type="submit">Move anyway</button>`;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const reason = form.elements.reason.value.trim();
    if (!reason) return;
    insertAt(listOf(cellEl(target.column, target.swimlane)), card, target.position);
    sendMove(card, target, origin, reason);
  });
  return form;
}

/** Columns at a hard limit show it while a card is dragged: the server will refuse the drop. */
export function markFullColumns(card, on) {
  const from = card ? placeOf(card).column : null;
  for (const column of page.columns) {
    const w = on ? wipOf(column.id) : null;
    const full = on && column.id !== from && w.hard && w.limit !== null && w.wip >= w.limit;
    for (const cell of boardEl.querySelectorAll(`.cell[data-column-id="${column.id}"]`)) {
      cell.classList.toggle("is-full", Boolean(full));
    }
  }
}
