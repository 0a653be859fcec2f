/* The keyboard: arrows move the focus between cards; Space picks a card up, arrows carry it,
 * Space or Enter drops it (a move, sent on drop), Escape puts it back; Enter opens a card. */

import {
  boardEl,
  canWrite,
  cardsIn,
  cellEl,
  listOf,
  page,
  placeName,
  placeOf,
  insertAt,
  lanesInOrder,
  visibleCardsIn,
} from "./context.js";
import { recomputeWip } from "./cards.js";
import { openCard } from "./dialog.js";
import { toggleLane } from "./lanes.js";
import { announce } from "./messages.js";
import { markFullColumns, sendMove } from "./moves.js";

let grabbed = null; // {card, origin}

/** True while a card is picked up with the keyboard (a click then does not open a card). */
export const isGrabbing = () => grabbed !== null;

function neighbourCell(cell, dColumn, dLane) {
  const columnIds = page.columns.map((c) => c.id);
  const lanes = lanesInOrder().map((lane) => Number(lane.dataset.swimlaneId));
  const c = columnIds.indexOf(Number(cell.dataset.columnId)) + dColumn;
  const l = lanes.indexOf(Number(cell.dataset.swimlaneId)) + dLane;
  if (c < 0 || c >= columnIds.length || l < 0 || l >= lanes.length) return null;
  return cellEl(columnIds[c], lanes[l]);
}

function expandLaneOf(cell) {
  const lane = cell.closest(".lane");
  if (lane && lane.classList.contains("is-collapsed")) toggleLane(lane, false);
}

/** Move the grabbed card one step in the page only; the server hears of it on drop. */
function stepGrabbed(card, key) {
  const list = card.parentElement;
  const cell = card.closest(".cell");
  const visible = visibleCardsIn(list);
  const i = visible.indexOf(card);
  if (key === "ArrowUp" || key === "ArrowDown") {
    const down = key === "ArrowDown";
    const neighbour = visible[i + (down ? 1 : -1)];
    if (neighbour) {
      list.insertBefore(card, down ? neighbour.nextSibling : neighbour);
    } else {
      const next = neighbourCell(cell, 0, down ? 1 : -1);
      if (!next) return;
      expandLaneOf(next);
      const target = listOf(next);
      target.insertBefore(card, down ? target.firstChild : null);
    }
  } else {
    const next = neighbourCell(cell, key === "ArrowRight" ? 1 : -1, 0);
    if (!next) return;
    const target = listOf(next);
    const there = visibleCardsIn(target);
    target.insertBefore(card, there[i] || null);
  }
  card.focus();
  card.scrollIntoView({ block: "nearest", inline: "nearest" });
  const place = placeOf(card);
  announce(
    `${placeName(place)}, position ${place.position + 1} of ${cardsIn(card.parentElement).length}.`,
  );
}

function grab(card) {
  grabbed = { card, origin: { list: card.parentElement, index: placeOf(card).position } };
  card.classList.add("is-grabbed");
  markFullColumns(card, true);
  announce(
    `Picked up ${card.querySelector(".card-title").textContent.trim()}. ` +
      "Arrow keys move it, Space drops it, Escape puts it back.",
  );
}

function release(drop) {
  const { card, origin } = grabbed;
  grabbed = null;
  card.classList.remove("is-grabbed");
  markFullColumns(null, false);
  const target = placeOf(card);
  const moved = card.parentElement !== origin.list || target.position !== origin.index;
  if (!drop) {
    if (moved) insertAt(origin.list, card, origin.index);
    card.focus();
    announce("Move cancelled.");
    return;
  }
  if (moved) {
    recomputeWip();
    sendMove(card, target, origin);
  } else {
    announce("Dropped where it was.");
  }
}

function focusNeighbour(card, key) {
  const list = card.parentElement;
  const visible = visibleCardsIn(list);
  const i = visible.indexOf(card);
  let next = null;
  if (key === "ArrowUp" || key === "ArrowDown") {
    next = visible[i + (key === "ArrowDown" ? 1 : -1)];
    let cell = card.closest(".cell");
    while (!next && cell) {
      cell = neighbourCell(cell, 0, key === "ArrowDown" ? 1 : -1);
      if (cell && !cell.closest(".lane").classList.contains("is-collapsed")) {
        const there = visibleCardsIn(listOf(cell));
        next = key === "ArrowDown" ? there[0] : there[there.length - 1];
      }
    }
  } else {
    let cell = card.closest(".cell");
    while (!next && cell) {
      cell = neighbourCell(cell, key === "ArrowRight" ? 1 : -1, 0);
      if (cell) {
        const there = visibleCardsIn(listOf(cell));
        next = there[Math.min(i, there.length - 1)];
      }
    }
  }
  if (next) {
    next.focus();
    next.scrollIntoView({ block: "nearest", inline: "nearest" });
  }
}

const ARROWS = new Set(["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"]);

export function enableKeys() {
  boardEl.addEventListener("keydown", (event) => {
    const card = event.target.closest && event.target.closest(".card");
    if (!card || event.target !== card || event.altKey || event.ctrlKey || event.metaKey) return;
    if (grabbed && grabbed.card === card) {
      if (ARROWS.has(event.key)) stepGrabbed(card, event.key);
      else if (event.key === " " || event.key === "Enter") release(true);
      else if (event.key === "Escape") release(false);
      else return;
      event.preventDefault();
      return;
    }
    if (event.key === "Enter") openCard(card.dataset.cardId);
    else if (event.key === " " && canWrite && !card.classList.contains("is-saving")) grab(card);
    else if (ARROWS.has(event.key)) focusNeighbour(card, event.key);
    else return;
    event.preventDefault();
  });

  boardEl.addEventListener("focusout", (event) => {
    // Tabbing away from a picked-up card puts it back, rather than leaving it half moved.
    if (grabbed && event.target === grabbed.card && !grabbed.card.contains(event.relatedTarget)) {
      window.setTimeout(() => {
        if (grabbed && document.activeElement !== grabbed.card) release(false);
      }, 0);
    }
  });
}
