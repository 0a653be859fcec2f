/* Swimlanes that fold (remembered per board in localStorage), the column policies (one open
 * at a time), and the quick-add form at the foot of a cell. */

import { api } from "../lib/api.js";
import { boardEl, boardId, columnsById, escapeHtml, placeName } from "./context.js";
import { refreshCard } from "./cards.js";
import { announce, showMessage } from "./messages.js";

const collapsedKey = `obeya:board:${boardId}:collapsed`;

export function toggleLane(lane, collapse) {
  const now = collapse === undefined ? !lane.classList.contains("is-collapsed") : collapse;
  lane.classList.toggle("is-collapsed", now);
  lane.querySelector(".lane-toggle").setAttribute("aria-expanded", String(!now));
  const collapsed = Array.from(boardEl.querySelectorAll(".lane.is-collapsed")).map(
    (l) => l.dataset.swimlaneId,
  );
  try {
    window.localStorage.setItem(collapsedKey, JSON.stringify(collapsed));
  } catch (storageFull) {
    /* remembering is a nicety */
  }
}

export function restoreLanes() {
  let collapsed = [];
  try {
    collapsed = JSON.parse(window.localStorage.getItem(collapsedKey) || "[]");
  } catch (unreadable) {
    collapsed = [];
  }
  for (const id of collapsed) {
    const lane = boardEl.querySelector(`.lane[data-swimlane-id="${Number(id)}"]`);
    if (lane) toggleLane(lane, true);
  }
}

/** Only one column policy open at a time; a click elsewhere or Escape closes it. */
export function enablePolicies() {
  boardEl.addEventListener(
    "toggle",
    (event) => {
      if (!event.target.matches || !event.target.matches("details.policy") || !event.target.open) {
        return;
      }
      for (const other of boardEl.querySelectorAll("details.policy[open]")) {
        if (other !== event.target) other.open = false;
      }
    },
    true,
  );
  document.addEventListener("click", (event) => {
    if (!event.target.closest("details.policy")) {
      for (const open of boardEl.querySelectorAll("details.policy[open]")) open.open = false;
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    for (const open of boardEl.querySelectorAll("details.policy[open]")) {
      open.open = false;
      open.querySelector("summary").focus();
    }
  });
}

export function openQuickAdd(cell) {
  const existing = cell.querySelector("form.quick-add");
  if (existing) {
    existing.elements.title.focus();
    return;
  }
  const column = columnsById.get(Number(cell.dataset.columnId));
  const opener = cell.querySelector(".quick-add-open");
  const id = `quick-add-${cell.dataset.columnId}-${cell.dataset.swimlaneId}`;
  const form = document.createElement("form");
  form.className = "quick-add";
  form.innerHTML =
    `<label class="sr-only" for="${id}">Title of the new card in ${escapeHtml(column.name)}</label>` +
    `<textarea id="${id}" name="title" rows="2" maxlength="200" required placeholder="Title, then Enter"></textarea>` +
    `<div class="quick-add-actions"><button type="submit" class="primary">Add</button>` +
    `<button type="button" class="cancel">Cancel</button></div>`;
  const close = () => {
    form.remove();
    opener.hidden = false;
    opener.focus();
  };
  form.querySelector(".cancel").addEventListener("click", close);
  form.elements.title.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const title = form.elements.title.value.trim();
    if (!title) return;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const card = await api("POST", `/boards/${boardId}/cards/`, {
        title,
        column: Number(cell.dataset.columnId),
        swimlane: Number(cell.dataset.swimlaneId),
      });
      form.elements.title.value = "";
      await refreshCard(card.id);
      announce(`Added ${card.title} to ${placeName(card)}.`);
    } catch (error) {
      showMessage(`The card was not added. ${error.message}`);
    } finally {
      button.disabled = false;
      form.elements.title.focus();
    }
  });
  opener.hidden = true;
  cell.append(form);
  form.elements.title.focus();
}
