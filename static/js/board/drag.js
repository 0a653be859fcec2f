/* Drag and drop with SortableJS (its ES module build, from node_modules as vendor/): a drop is
 * shown at once and sent as a move (moves.js). An entry module of its own, which board.html
 * loads after index.js for those who may write only: viewers never download SortableJS, and a
 * static import (not a dynamic one) means cards can be dragged as soon as the page has loaded
 * (module scripts run in order, before DOMContentLoaded). */

import Sortable from "../../vendor/sortablejs/modular/sortable.esm.js";
import { boardEl, canWrite, cardsIn, placeOf } from "./context.js";
import { recomputeWip } from "./cards.js";
import { markFullColumns, noteDragEnd, sendMove } from "./moves.js";

function enableDragAndDrop() {
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
        noteDragEnd();
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

if (boardEl && canWrite) enableDragAndDrop();
