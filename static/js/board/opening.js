/* Where the board opens. On a phone a column is most of the screen's width, so the first view
 * (Backlog, Ready of the top lane) may well hold no card at all while the work sits further
 * right or lower: the board then scrolls, once, to the first cell that has cards, in reading
 * order (lanes top to bottom, columns left to right). A card already in view, or a deep link
 * to a card, leaves the board where it is. */

import { boardEl } from "./context.js";

const MARGIN = 8; // px: the cell's edge stays in sight

function inView(el, view) {
  const r = el.getBoundingClientRect();
  return r.right > view.left && r.left < view.right && r.bottom > view.top && r.top < view.bottom;
}

export function openOnCards() {
  const scroller = boardEl.querySelector(".board-scroll");
  if (!scroller) return;
  const cards = Array.from(boardEl.querySelectorAll(".lane:not(.is-collapsed) .card:not([hidden])"));
  if (cards.length === 0) return;
  const view = scroller.getBoundingClientRect();
  const heads = boardEl.querySelector(".column-heads");
  const top = view.top + (heads ? heads.getBoundingClientRect().height : 0);
  const visible = { left: view.left, right: view.right, top, bottom: view.bottom };
  if (cards.some((card) => inView(card, visible))) return;
  const first = cards[0];
  const cell = first.closest(".cell");
  const cellBox = cell.getBoundingClientRect();
  const cardBox = first.getBoundingClientRect();
  // No smooth scrolling: this is where the page opens, not a movement to follow.
  scroller.scrollTo({
    left: scroller.scrollLeft + cellBox.left - view.left - MARGIN,
    top: cardBox.bottom > view.bottom || cardBox.top < top ? scroller.scrollTop + cardBox.top - top - MARGIN : scroller.scrollTop,
    behavior: "instant",
  });
}
