/* The card dialog's waits: what the open card waits on (another team's card, on any board of
 * the organisation), who waits on it, and, for those who may change the board, a form to
 * make it wait on a card named by its reference (#42) or found by words of its title.
 * Self-contained: the dialog calls showWaits(id) when it opens a card; the rest is here. */

import { api } from "../lib/api.js";
import { refreshCard } from "./cards.js";

const section = document.getElementById("dlg-waits");
const form = document.getElementById("dlg-wait-form");
const statusEl = document.getElementById("dlg-wait-status");
let shownId = null;

function endLabel(end) {
  // A card the reader may not see is only "a card of <team>".
  if (!end.visible) return document.createTextNode(`a card of ${end.team}`);
  const link = document.createElement("a");
  link.href = end.url;
  link.className = "wait-ref";
  link.textContent = `${end.ref} ${end.title}`;
  const span = document.createElement("span");
  span.append(link, ` (${end.team}${end.board_name ? ` · ${end.board_name}` : ""})`);
  return span;
}

function days(n) {
  return n < 1 ? `${Math.round(n * 24)} h` : `${n.toFixed(1)} d`;
}

function item(wait, end, removable) {
  const li = document.createElement("li");
  li.className = wait.open ? "wait open" : "wait ended";
  li.dataset.waitId = wait.id;
  li.append(endLabel(end));
  const when = document.createElement("span");
  when.className = "muted";
  when.textContent = wait.open
    ? ` · waiting ${days(wait.days)}`
    : ` · waited ${days(wait.days)}, ${wait.ended_reason === "finished" ? "it was finished" : "removed"}`;
  li.append(when);
  if (removable && wait.open) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link wait-remove";
    button.textContent = "Stop waiting";
    button.addEventListener("click", () => remove(wait.id));
    li.append(" ", button);
  }
  return li;
}

// The dialog's blocker section, as the card now is: a wait blocks it, and only ending the wait
// unblocks it (the server refuses an unblock while one is open).
async function refreshBlocker(id, openWaits) {
  try {
    const card = await api("GET", `/cards/${id}/`);
    if (shownId !== id) return;
    const blockedP = document.querySelector('#card-dialog [data-field="blocked"]');
    if (blockedP) {
      blockedP.hidden = !card.blocked;
      blockedP.textContent = card.blocked ? `Blocked: ${card.block_reason}` : "";
    }
    const blockForm = document.getElementById("dlg-block");
    const unblock = document.getElementById("dlg-unblock");
    if (blockForm) blockForm.hidden = card.blocked;
    if (unblock) unblock.hidden = !card.blocked || openWaits > 0;
  } catch {
    /* the board's own refresh of the card still shows it */
  }
}

function fill(data) {
  const mine = document.getElementById("dlg-waits-list");
  const theirs = document.getElementById("dlg-waited-list");
  const summary = document.getElementById("dlg-waited-summary");
  const canWrite = section.dataset.canWrite === "true";
  const open = data.waits.filter((w) => w.open);
  mine.replaceChildren(...data.waits.slice(0, 6).map((w) => item(w, w.on_card, canWrite)));
  document.getElementById("dlg-waits-none").hidden = data.waits.length > 0;
  section.dataset.open = String(open.length);
  summary.hidden = !data.waited_on_summary;
  summary.textContent = data.waited_on_summary ? `Waited on by ${data.waited_on_summary}:` : "";
  theirs.replaceChildren(...data.waited_on_by.filter((w) => w.open).map((w) => item(w, w.card, false)));
  const unblock = document.getElementById("dlg-unblock");
  if (unblock && open.length) unblock.hidden = true;
}

export async function showWaits(id) {
  if (!section) return;
  shownId = Number(id);
  statusEl.textContent = "";
  try {
    const data = await api("GET", `/cards/${shownId}/waits/`);
    if (shownId === Number(id)) fill(data);
  } catch (error) {
    statusEl.textContent = `The waits cannot be read. ${error.message}`;
  }
}

async function remove(waitId) {
  const id = shownId;
  try {
    await api("DELETE", `/cards/${id}/waits/${waitId}/`);
    statusEl.textContent = "No longer waiting.";
    refreshCard(id);
    await showWaits(id);
    refreshBlocker(id, Number(section.dataset.open));
  } catch (error) {
    statusEl.textContent = error.message;
  }
}

// "#42", "42" or words of a title: a reference wins; words are looked up in the organisation.
function referenceIn(text) {
  const match = text.trim().match(/^#?(\d+)\b/);
  return match ? Number(match[1]) : null;
}

let lookup = null;
async function suggest(input) {
  const text = input.value.trim();
  const options = document.getElementById("dlg-wait-options");
  if (referenceIn(text) !== null || text.length < 2) return;
  clearTimeout(lookup);
  lookup = setTimeout(async () => {
    try {
      const org = encodeURIComponent(section.dataset.org);
      const found = await api("GET", `/cards/?org=${org}&q=${encodeURIComponent(text)}&page_size=8`);
      options.replaceChildren(
        ...found.results
          .filter((card) => card.id !== shownId)
          .map((card) => {
            const option = document.createElement("option");
            option.value = `#${card.id} ${card.title}`;
            return option;
          }),
      );
    } catch {
      /* suggestions only: the reference typed still works */
    }
  }, 250);
}

if (form) {
  const input = form.elements.on;
  input.addEventListener("input", () => suggest(input));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const on = referenceIn(input.value);
    if (on === null) {
      statusEl.textContent = "Name the card by its reference, e.g. #42 (or pick one found by its title).";
      return;
    }
    const id = shownId;
    try {
      await api("POST", `/cards/${id}/waits/`, { on });
      input.value = "";
      refreshCard(id);
      await showWaits(id);
      statusEl.textContent = "Waiting: the card is blocked until that one is done.";
      refreshBlocker(id, Number(section.dataset.open));
    } catch (error) {
      statusEl.textContent = error.message;
    }
  });
}
