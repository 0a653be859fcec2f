/* The board's archived cards (templates/boards/board.html's #archive-dialog): the latest
 * archived first, from GET /api/v1/cards/?board=<id>&archived=true, each with a Restore button
 * for those who may write. A restored card comes back at the end of its cell (cards.js). */

import { api } from "../lib/api.js";
import { boardId, canWrite, placeName } from "./context.js";
import { refreshCard } from "./cards.js";
import { showMessage } from "./messages.js";

const SHOWN = 100;
const panel = document.getElementById("archive-dialog");
const list = document.getElementById("archive-list");

function when(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function item(card) {
  const li = document.createElement("li");
  li.className = "archived-card";
  li.dataset.cardId = String(card.id);
  const text = document.createElement("div");
  const title = document.createElement("p");
  title.className = "archived-title";
  title.textContent = card.title;
  const meta = document.createElement("p");
  meta.className = "meta";
  // An archived card's last write is its archive (archive_card sets updated_at).
  meta.textContent = `#${card.id} · ${placeName(card)} · archived ${when(card.updated_at)}`;
  text.append(title, meta);
  li.append(text);
  if (canWrite) {
    const restore = document.createElement("button");
    restore.type = "button";
    restore.textContent = "Restore";
    restore.setAttribute("aria-label", `Restore “${card.title}”`);
    restore.addEventListener("click", async () => {
      restore.disabled = true;
      try {
        await api("PATCH", `/cards/${card.id}/`, { archived: false, version: card.version });
        li.remove();
        if (!list.children.length) list.append(empty());
        await refreshCard(card.id);
        showMessage(`“${card.title}” is back on the board, in ${placeName(card)}.`, { kind: "info" });
      } catch (error) {
        restore.disabled = false;
        meta.textContent = `Not restored: ${error.message}`;
        meta.classList.add("error");
      }
    });
    li.append(restore);
  }
  return li;
}

function empty() {
  const li = document.createElement("li");
  li.className = "muted empty";
  li.textContent = "No archived cards.";
  return li;
}

async function load() {
  list.replaceChildren(Object.assign(document.createElement("li"), { className: "muted", textContent: "Loading…" }));
  const more = document.getElementById("archive-more");
  try {
    const page_ = await api("GET", `/cards/?board=${boardId}&archived=true&page_size=${SHOWN}`);
    list.replaceChildren(...page_.results.map(item));
    if (!page_.results.length) list.append(empty());
    more.hidden = page_.count <= SHOWN;
    more.textContent = `The latest ${SHOWN} of ${page_.count}; GET /api/v1/cards/?archived=true lists them all.`;
  } catch (error) {
    list.replaceChildren(Object.assign(document.createElement("li"), { className: "error", textContent: `Archived cards cannot be loaded: ${error.message}` }));
  }
}

export function enableArchive() {
  const open = document.getElementById("open-archive");
  if (!open || !panel) return;
  open.addEventListener("click", () => {
    panel.showModal();
    load();
  });
  panel.querySelector("[data-action=close]").addEventListener("click", () => panel.close());
  panel.addEventListener("close", () => open.focus());
}
