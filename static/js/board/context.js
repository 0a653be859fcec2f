/* The board page's data (the json_script "board-data" the server renders) and the DOM helpers
 * every part of the page shares: finding cards and cells, where a card is, putting it at an
 * index. Markup carries data-card-id, data-column-id and data-swimlane-id (DESIGN.md).
 */

export const boardEl = document.querySelector(".board[data-board-id]");
export const page = boardEl ? JSON.parse(document.getElementById("board-data").textContent) : null;
export const boardId = page && page.board;
export const canWrite = Boolean(page && page.canWrite);
export const columnsById = new Map(page ? page.columns.map((c) => [c.id, c]) : []);
export const lanesById = new Map(page ? page.swimlanes.map((s) => [s.id, s]) : []);
export const peopleById = new Map(page ? page.people.map((p) => [p.id, p]) : []);
export const labelsById = new Map(page ? page.labels.map((l) => [l.id, l]) : []);

export const cardEl = (id) => boardEl.querySelector(`.card[data-card-id="${Number(id)}"]`);
export const cellEl = (columnId, swimlaneId) =>
  boardEl.querySelector(
    `.cell[data-column-id="${Number(columnId)}"][data-swimlane-id="${Number(swimlaneId)}"]`,
  );
export const listOf = (cell) => cell.querySelector("ol.cards");
export const cardsIn = (list) => Array.from(list.children).filter((el) => el.matches(".card"));
export const visibleCardsIn = (list) => cardsIn(list).filter((el) => !el.hidden);
export const lanesInOrder = () => Array.from(boardEl.querySelectorAll(".lane"));

export function placeOf(card) {
  const cell = card.closest(".cell");
  return {
    column: Number(cell.dataset.columnId),
    swimlane: Number(cell.dataset.swimlaneId),
    position: cardsIn(card.parentElement).indexOf(card),
  };
}

export function insertAt(list, card, index) {
  const hadFocus = document.activeElement === card;
  const others = cardsIn(list).filter((el) => el !== card);
  list.insertBefore(card, others[index] || null);
  if (hadFocus) card.focus({ preventScroll: false });
}

export function placeName(place) {
  const column = columnsById.get(place.column);
  const lane = lanesById.get(place.swimlane);
  const name = column ? column.name : "?";
  return page.swimlanes.length > 1 && lane ? `${name} · ${lane.name}` : name;
}

export function escapeHtml(text) {
  const div = document.createElement("div");
  div.textContent = text;
  return div.innerHTML;
}
