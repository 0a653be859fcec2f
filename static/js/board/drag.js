/* Drag and drop with SortableJS (its ES module build, from node_modules as vendor/): a drop is
 * shown at once and sent as a move (moves.js). Only a page that may write loads SortableJS: a
 * dynamic import, which the page has already fetched (board.html's <link rel="modulepreload">
 * for writers), so it resolves at once. The board gets `can-drag` once cards can be dragged. */

import { boardEl, canWrite, cardsIn, placeOf } from "./context.js";
import { recomputeWip } from "./cards.js";
import { markFullColumns, sendMove } from "./moves.js";

let lastDragEnd = 0;

/** True just after a drag ended: the click that ends a drag does not open the card. */
export const justDragged = () => Date.now() - lastDragEnd <= 250;

export async function enableDragAndDrop() {
  if (!canWrite) return;
  const { default: Sortable } = await import("../../vendor/sortablejs/modular/sortable.esm.js");
  let origin = null;
  for (const list of boardEl.querySelectorAll("ol.cards")) {
    Sortable.create(list, {
      group: "cards",
      draggable: ".card",
      filter: ".is-saving",
      preventOnFilter: false,
      animation: 120,
      delay: 120,
      delayOnTouchOnly: true,
      emptyInsertThreshold: 28,
      ghostClass: "drag-ghost",
      chosenClass: "drag-chosen",
      dragClass: "drag-dragging",
      onStart(event) {
        origin = { list: event.from, index: cardsIn(event.from).indexOf(event.item) };
        boardEl.classList.add("is-dragging");
        markFullColumns(event.item, true);
      },
      onEnd(event) {
        boardEl.classList.remove("is-dragging");
        markFullColumns(null, false);
        lastDragEnd = Date.now();
        const card = event.item;
        const target = placeOf(card);
        if (event.to === origin.list && target.position === origin.index) return;
        recomputeWip();
        sendMove(card, target, origin);
      },
    });
  }
  boardEl.classList.add("can-drag");
}
