/* The card dialog: a card's fields (an edit form for those who may write, a read-only view for
 * the others), its comments and its history; a move, a block or an unblock from it. The URL
 * says which card is open (#card-<id>), so that a link opens it. */

import { api } from "../lib/api.js";
import {
  boardEl,
  cardEl,
  cardsIn,
  cellEl,
  insertAt,
  labelsById,
  lanesInOrder,
  listOf,
  page,
  peopleById,
  placeName,
  placeOf,
} from "./context.js";
import { CARD_REMOVED, recomputeWip, refreshCard } from "./cards.js";
import { showMessage } from "./messages.js";
import { sendMove } from "./moves.js";
import { showWaits } from "./waits.js";

const dialog = document.getElementById("card-dialog");
const editForm = document.getElementById("dlg-edit");
let dialogCardId = null;
let returnFocus = null;

const field = (name) => dialog.querySelector(`[data-field="${name}"]`);
const COS_NAMES = {
  expedite: "Expedite",
  fixed_date: "Fixed date",
  standard: "Standard",
  intangible: "Intangible",
};

function formatWhen(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function formatDays(ms) {
  const days = ms / 86400000;
  if (days < 1 / 24) return `${Math.max(1, Math.round(days * 1440))} min`;
  if (days < 1) return `${Math.round(days * 24)} h`;
  return `${days.toFixed(days < 10 ? 1 : 0)} d`;
}

function fillDialog(card) {
  field("ref").textContent = `#${card.id}`;
  field("place").textContent = placeName(card);
  const flags = field("flags");
  flags.replaceChildren();
  if (card.class_of_service !== "standard") {
    const chip = document.createElement("span");
    chip.className = `cos-chip cos-${card.class_of_service}`;
    chip.textContent = COS_NAMES[card.class_of_service];
    flags.append(chip);
  }
  flags.append(`${Math.floor(card.age_days)} d old`);
  document.getElementById("dlg-heading").textContent = `Card #${card.id}: ${card.title}`;

  const blockedP = field("blocked");
  blockedP.hidden = !card.blocked;
  blockedP.textContent = card.blocked ? `Blocked: ${card.block_reason}` : "";
  if (field("not-blocked")) field("not-blocked").hidden = card.blocked;

  if (editForm) {
    const f = editForm.elements;
    f.title.value = card.title;
    f.description.value = card.description;
    f.description.hidden = true;
    document.getElementById("dlg-desc-view").hidden = false;
    setMarkdown(document.getElementById("dlg-desc-view"), card.description_html, "No description yet.");
    f.class_of_service.value = card.class_of_service;
    f.value.value = card.value;
    f.due_date.value = card.due_date || "";
    f.customer.value = card.customer;
    fillChoices(document.getElementById("dlg-assignees"), "assignees", page.people, card.assignees, (p) => p.name);
    fillChoices(document.getElementById("dlg-labels"), "labels", page.labels, card.labels, (l) => l.name, (l) => l.color);
    fillMoveSelect(card);
    document.getElementById("dlg-block").hidden = card.blocked;
    document.getElementById("dlg-unblock").hidden = !card.blocked;
    document.getElementById("dlg-status").textContent = "";
  } else {
    field("title").textContent = card.title;
    setMarkdown(field("description"), card.description_html, "No description.");
    field("assignees").textContent =
      card.assignees.map((id) => (peopleById.get(id) || { name: `#${id}` }).name).join(", ") || "—";
    field("labels").textContent =
      card.labels.map((id) => (labelsById.get(id) || { name: `#${id}` }).name).join(", ") || "—";
    field("class_of_service").textContent = COS_NAMES[card.class_of_service];
    field("value").textContent = `${card.value} / 100`;
    field("due_date").textContent = card.due_date || "—";
    field("customer").textContent = card.customer || "—";
  }
}

function setMarkdown(el, html, empty) {
  // description_html and body_html are rendered and sanitised by the server (boards.rendering).
  if (html) {
    el.innerHTML = html;
    el.classList.remove("empty");
  } else {
    el.textContent = empty;
    el.classList.add("empty");
  }
}

function fillChoices(container, name, options, chosen, text, color) {
  container.replaceChildren();
  if (!options.length) {
    container.textContent = "None on this board.";
    return;
  }
  for (const option of options) {
    const label = document.createElement("label");
    label.className = "choice";
    const input = document.createElement("input");
    input.type = "checkbox";
    input.name = name;
    input.value = String(option.id);
    input.checked = chosen.includes(option.id);
    label.append(input);
    if (color) {
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.setProperty("--label", color(option));
      label.append(swatch);
    }
    label.append(document.createTextNode(text(option)));
    container.append(label);
  }
}

function fillMoveSelect(card) {
  const select = document.getElementById("dlg-move");
  select.replaceChildren();
  for (const lane of lanesInOrder()) {
    for (const column of page.columns) {
      const place = { column: column.id, swimlane: Number(lane.dataset.swimlaneId) };
      const option = document.createElement("option");
      option.value = `${place.column}:${place.swimlane}`;
      option.textContent = placeName(place);
      option.selected = place.column === card.column && place.swimlane === card.swimlane;
      select.append(option);
    }
  }
}

export async function openCard(id) {
  id = Number(id);
  const card = cardEl(id);
  returnFocus = card;
  dialogCardId = id;
  try {
    const data = await api("GET", `/cards/${id}/`);
    if (dialogCardId !== id) return;
    fillDialog(data);
  } catch (error) {
    showMessage(`The card cannot be opened. ${error.message}`);
    return;
  }
  document.getElementById("dlg-comments").replaceChildren();
  document.getElementById("dlg-history").replaceChildren();
  if (!dialog.open) dialog.showModal();
  const url = `${window.location.pathname}${window.location.search}#card-${id}`;
  window.history.replaceState(window.history.state, "", url);
  loadComments(id);
  loadHistory(id);
  showWaits(id);
}

async function loadComments(id) {
  const list = document.getElementById("dlg-comments");
  try {
    const page_ = await api("GET", `/cards/${id}/comments/?page_size=200`);
    if (dialogCardId !== id) return;
    list.replaceChildren(...page_.results.map(commentItem));
    if (!page_.results.length) list.append(emptyItem("No comments yet."));
  } catch (error) {
    list.replaceChildren(emptyItem(`Comments cannot be loaded: ${error.message}`));
  }
}

function emptyItem(text) {
  const li = document.createElement("li");
  li.className = "muted empty";
  li.textContent = text;
  return li;
}

function commentItem(comment) {
  const li = document.createElement("li");
  li.className = "comment";
  const head = document.createElement("p");
  head.className = "comment-head";
  const who = document.createElement("strong");
  who.textContent = comment.author ? comment.author.name : "someone";
  const when = document.createElement("time");
  when.dateTime = comment.created_at;
  when.textContent = formatWhen(comment.created_at);
  head.append(who, " · ", when);
  const body = document.createElement("div");
  body.className = "markdown";
  body.innerHTML = comment.body_html; // sanitised by the server
  li.append(head, body);
  return li;
}

async function loadHistory(id) {
  const list = document.getElementById("dlg-history");
  try {
    const page_ = await api("GET", `/cards/${id}/history/?page_size=500`);
    if (dialogCardId !== id) return;
    const moves = page_.results;
    list.replaceChildren(
      ...moves.map((move, i) => {
        const li = document.createElement("li");
        const next = moves[i + 1];
        const stayed = (next ? new Date(next.at) : new Date()) - new Date(move.at);
        const what = document.createElement("p");
        what.className = "what";
        what.textContent = move.from_column_name
          ? `${move.from_column_name} → ${move.to_column_name || "?"}`
          : `Created in ${move.to_column_name || "?"}`;
        const meta = document.createElement("p");
        meta.className = "meta";
        const when = document.createElement("time");
        when.dateTime = move.at;
        when.textContent = formatWhen(move.at);
        meta.append(when, ` · ${move.actor ? move.actor.name : "someone"} · `);
        const stay = document.createElement("span");
        stay.className = "stay";
        stay.textContent = next
          ? `${formatDays(stayed)} in ${move.to_column_name || "?"}`
          : `${formatDays(stayed)} so far`;
        meta.append(stay);
        li.append(what, meta);
        if (move.override_reason) {
          const why = document.createElement("p");
          why.className = "override-reason";
          why.textContent = `WIP limit passed: ${move.override_reason}`;
          li.append(why);
        }
        return li;
      }),
    );
  } catch (error) {
    list.replaceChildren(emptyItem(`History cannot be loaded: ${error.message}`));
  }
}

/** The dialog's listeners; a card taken off the page (archived, deleted) closes its dialog. */
export function enableDialog() {
  dialog.addEventListener("close", () => {
    const id = dialogCardId;
    dialogCardId = null;
    window.history.replaceState(
      window.history.state,
      "",
      window.location.pathname + window.location.search,
    );
    // The card's node may have been replaced by a refresh while the dialog was open.
    const card = returnFocus && returnFocus.isConnected ? returnFocus : id && cardEl(id);
    if (card) card.focus();
  });
  dialog.querySelector("[data-action=close]").addEventListener("click", () => dialog.close());
  // A click on the backdrop (outside the dialog's box) closes it.
  dialog.addEventListener("click", (event) => {
    if (event.target !== dialog) return;
    const box = dialog.getBoundingClientRect();
    const inside =
      event.clientX >= box.left && event.clientX <= box.right &&
      event.clientY >= box.top && event.clientY <= box.bottom;
    if (!inside) dialog.close();
  });
  boardEl.addEventListener(CARD_REMOVED, (event) => {
    if (dialogCardId === event.detail.cardId && dialog.open) {
      dialog.close();
      showMessage("That card was archived or deleted.", { kind: "info" });
    }
  });
  if (editForm) {
    const status = document.getElementById("dlg-status");
    const setStatus = (text, error) => {
      status.textContent = text;
      status.classList.toggle("error", Boolean(error));
    };

    document.getElementById("dlg-desc-edit").addEventListener("click", () => {
      const area = editForm.elements.description;
      area.hidden = false;
      document.getElementById("dlg-desc-view").hidden = true;
      area.focus();
    });

    editForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const id = dialogCardId;
      const f = editForm.elements;
      const checked = (name) =>
        Array.from(editForm.querySelectorAll(`input[name=${name}]:checked`)).map((i) => Number(i.value));
      const body = {
        title: f.title.value.trim(),
        description: f.description.value,
        assignees: checked("assignees"),
        labels: checked("labels"),
        class_of_service: f.class_of_service.value,
        value: f.value.value === "" ? 0 : Number(f.value.value),
        due_date: f.due_date.value || null,
        customer: f.customer.value.trim(),
      };
      if (!body.title) {
        setStatus("A card needs a title.", true);
        f.title.focus();
        return;
      }
      setStatus("Saving…");
      try {
        const card = await api("PATCH", `/cards/${id}/`, body);
        if (dialogCardId === id) fillDialog(card);
        setStatus("Saved.");
        refreshCard(id);
      } catch (error) {
        setStatus(error.message, true);
      }
    });

    document.getElementById("dlg-move").addEventListener("change", async (event) => {
      const [column, swimlane] = event.target.value.split(":").map(Number);
      const card = cardEl(dialogCardId);
      if (!card) return;
      const origin = { list: card.parentElement, index: placeOf(card).position };
      const target = { column, swimlane, position: cardsIn(listOf(cellEl(column, swimlane))).length };
      insertAt(listOf(cellEl(column, swimlane)), card, target.position);
      recomputeWip();
      const ok = await sendMove(card, target, origin);
      const fresh = await api("GET", `/cards/${dialogCardId}/`).catch(() => null);
      if (fresh) fillDialog(fresh);
      if (ok) loadHistory(dialogCardId);
    });

    document.getElementById("dlg-block").addEventListener("submit", async (event) => {
      event.preventDefault();
      const id = dialogCardId;
      const reason = event.target.elements.reason.value.trim();
      if (!reason) return;
      try {
        const card = await api("POST", `/cards/${id}/block/`, { reason });
        event.target.elements.reason.value = "";
        fillDialog(card);
        refreshCard(id);
        document.getElementById("dlg-unblock").focus();
      } catch (error) {
        setStatus(error.message, true);
      }
    });

    document.getElementById("dlg-unblock").addEventListener("click", async () => {
      const id = dialogCardId;
      try {
        const card = await api("POST", `/cards/${id}/unblock/`);
        fillDialog(card);
        refreshCard(id);
        document.getElementById("dlg-block-reason").focus();
      } catch (error) {
        setStatus(error.message, true);
      }
    });

    document.getElementById("dlg-comment").addEventListener("submit", async (event) => {
      event.preventDefault();
      const id = dialogCardId;
      const area = event.target.elements.body;
      if (!area.value.trim()) return;
      try {
        const comment = await api("POST", `/cards/${id}/comments/`, { body: area.value });
        area.value = "";
        const list = document.getElementById("dlg-comments");
        list.querySelector(".empty")?.remove();
        list.append(commentItem(comment));
      } catch (error) {
        setStatus(error.message, true);
      }
    });
    document.getElementById("dlg-comment-body").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        event.target.form.requestSubmit();
      }
    });
  }
}
