/* The card dialog: a card's fields (an edit form for those who may write, a read-only view for
 * the others), its comments and its whole history; a move, a block or an unblock, an archive
 * or a delete from it. The URL says which card is open (#card-<id>), so that a link opens it.
 *
 * No edit is lost: the dialog keeps the card as it loaded it (`loaded`, with its version) and
 * saves only the fields the user changed, with that version; the server refuses a stale save
 * (409) and says who changed what. While it is open, the board's live events keep it current:
 * a field nobody is editing takes the new value, and one the user is editing that someone else
 * changed shows "bob changed the title to …" with the choice to take theirs or keep yours. */

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
import { CARD_CHANGED, CARD_REMOVED, recomputeWip, refreshCard, removeCard } from "./cards.js";
import { showMessage } from "./messages.js";
import { sendMove } from "./moves.js";
import { showWaits } from "./waits.js";

const dialog = document.getElementById("card-dialog");
const editForm = document.getElementById("dlg-edit");
let dialogCardId = null;
let returnFocus = null;
// The card as the dialog last took it from the server: the base the user's edits are measured
// from, and the version a save is made from.
let loaded = null;

const EDITABLE = [
  "title",
  "description",
  "assignees",
  "labels",
  "class_of_service",
  "value",
  "due_date",
  "customer",
];
const FIELD_WORDS = {
  title: "the title",
  description: "the description",
  assignees: "the assignees",
  labels: "the labels",
  class_of_service: "the class of service",
  value: "the value",
  due_date: "the due date",
  customer: "the customer",
};

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
  loaded = card;
  fillMeta(card);
  if (editForm) {
    for (const name of EDITABLE) setField(name, card);
    const f = editForm.elements;
    f.description.hidden = true;
    document.getElementById("dlg-desc-view").hidden = false;
    document.getElementById("dlg-status").textContent = "";
    clearConflicts();
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

/** What the dialog shows around the fields: where the card is, its flags, its blocker. */
function fillMeta(card) {
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
    fillMoveSelect(card);
    document.getElementById("dlg-block").hidden = card.blocked;
    document.getElementById("dlg-unblock").hidden = !card.blocked;
  }
}

// --- the form's fields, compared with the card as loaded -----------------------------------

/** A field's value in a comparable form (ids sorted, text trimmed where the dialog trims). */
function norm(name, value) {
  if (name === "assignees" || name === "labels") return [...value].map(Number).sort((a, b) => a - b);
  if (name === "title" || name === "customer") return (value || "").trim();
  if (name === "due_date") return value || null;
  return value;
}

function same(a, b) {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}

function formValues() {
  const f = editForm.elements;
  const checked = (name) =>
    Array.from(editForm.querySelectorAll(`input[name=${name}]:checked`)).map((i) => Number(i.value));
  return {
    title: f.title.value.trim(),
    description: f.description.value,
    assignees: norm("assignees", checked("assignees")),
    labels: norm("labels", checked("labels")),
    class_of_service: f.class_of_service.value,
    value: f.value.value === "" ? 0 : Number(f.value.value),
    due_date: f.due_date.value || null,
    customer: f.customer.value.trim(),
  };
}

/** Put the card's value of one field into the form. */
function setField(name, card) {
  const f = editForm.elements;
  switch (name) {
    case "description":
      f.description.value = card.description;
      setMarkdown(document.getElementById("dlg-desc-view"), card.description_html, "No description yet.");
      break;
    case "assignees":
      fillChoices(document.getElementById("dlg-assignees"), "assignees", page.people, card.assignees, (p) => p.name);
      break;
    case "labels":
      fillChoices(document.getElementById("dlg-labels"), "labels", page.labels, card.labels, (l) => l.name, (l) => l.color);
      break;
    case "due_date":
      f.due_date.value = card.due_date || "";
      break;
    default:
      f[name].value = card[name];
  }
}

/** One field's value in words, for "bob changed the title to …". */
function inWords(name, card) {
  const value = card[name];
  switch (name) {
    case "description": {
      const text = value.trim().replace(/\s+/g, " ");
      return text.length > 80 ? `${text.slice(0, 80)}…` : text || "nothing";
    }
    case "assignees":
      return value.map((id) => (peopleById.get(id) || { name: `#${id}` }).name).join(", ") || "nobody";
    case "labels":
      return value.map((id) => (labelsById.get(id) || { name: `#${id}` }).name).join(", ") || "none";
    case "class_of_service":
      return COS_NAMES[value];
    case "due_date":
      return value || "no date";
    default:
      return String(value) || "nothing";
  }
}

/** Take `theirs` (the card as someone else left it) into the dialog: each field the user has not
 * touched takes their value; one the user changed differently becomes a question. */
function mergeTheirs(theirs, whoChanged) {
  const mine = formValues();
  for (const name of EDITABLE) {
    const base = norm(name, loaded[name]);
    const their = norm(name, theirs[name]);
    if (same(base, their)) continue;
    if (same(mine[name], base)) setField(name, theirs);
    else if (!same(mine[name], their)) addConflict(name, whoChanged(name), theirs);
  }
  loaded = theirs;
  fillMeta(theirs);
}

function clearConflicts() {
  const list = document.getElementById("dlg-conflicts");
  list.replaceChildren();
  list.hidden = true;
}

function addConflict(name, who, theirs) {
  const list = document.getElementById("dlg-conflicts");
  list.querySelector(`[data-conflict="${name}"]`)?.remove();
  const li = document.createElement("li");
  li.dataset.conflict = name;
  const text = document.createElement("p");
  text.textContent = `${who} changed ${FIELD_WORDS[name]} to “${inWords(name, theirs)}”.`;
  const take = document.createElement("button");
  take.type = "button";
  take.textContent = "Take theirs";
  const keep = document.createElement("button");
  keep.type = "button";
  keep.textContent = "Keep mine";
  const done = () => {
    li.remove();
    list.hidden = list.children.length === 0;
  };
  take.addEventListener("click", () => {
    setField(name, theirs);
    done();
  });
  keep.addEventListener("click", done); // the next save sends mine, from their version
  li.append(text, take, keep);
  list.append(li);
  list.hidden = false;
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

/** One history entry as a sentence: what happened (the meta line says who and when). */
function historyText(entry) {
  switch (entry.kind) {
    case "created":
      return `Created in ${column(entry.to_column_name)}`;
    case "moved":
      return `${column(entry.from_column_name)} → ${column(entry.to_column_name)}`;
    case "edited": {
      const what = FIELD_WORDS[entry.field] || entry.field;
      if (entry.field === "description") return `Changed ${what}`;
      const asCard = (value) => inWords(entry.field, { [entry.field]: value });
      return `Changed ${what} from “${asCard(entry.old)}” to “${asCard(entry.new)}”`;
    }
    case "commented":
      return "Commented";
    case "blocked":
      return `Blocked: ${entry.reason}`;
    case "unblocked":
      return "Unblocked";
    case "archived":
      return entry.actor ? "Archived" : "Archived by the board's release policy";
    case "restored":
      return "Restored to the board";
    default:
      return entry.kind;
  }
}

async function loadHistory(id) {
  const list = document.getElementById("dlg-history");
  try {
    const page_ = await api("GET", `/cards/${id}/history/?page_size=500`);
    if (dialogCardId !== id) return;
    const entries = page_.results;
    // How long the card stayed in each column: from one placement to the next.
    const placements = entries.filter((e) => e.kind === "created" || e.kind === "moved");
    list.replaceChildren(
      ...entries.map((entry) => {
        const li = document.createElement("li");
        li.className = `kind-${entry.kind}`;
        li.dataset.kind = entry.kind;
        const what = document.createElement("p");
        what.className = "what";
        what.textContent = historyText(entry);
        const meta = document.createElement("p");
        meta.className = "meta";
        const when = document.createElement("time");
        when.dateTime = entry.at;
        when.textContent = formatWhen(entry.at);
        meta.append(when, ` · ${entry.actor ? entry.actor.name : "Obeya"}`);
        const i = placements.indexOf(entry);
        if (i >= 0) {
          const next = placements[i + 1];
          const stayed = (next ? new Date(next.at) : new Date()) - new Date(entry.at);
          const stay = document.createElement("span");
          stay.className = "stay";
          stay.textContent = next
            ? `${formatDays(stayed)} in ${column(entry.to_column_name)}`
            : `${formatDays(stayed)} so far`;
          meta.append(" · ", stay);
        }
        li.append(what, meta);
        if (entry.kind === "commented" && entry.comment) {
          const body = document.createElement("div");
          body.className = "markdown quote";
          body.innerHTML = entry.comment.body_html; // sanitised by the server
          li.append(body);
        }
        if (entry.override_reason) {
          const why = document.createElement("p");
          why.className = "override-reason";
          why.textContent = `WIP limit passed: ${entry.override_reason}`;
          li.append(why);
        }
        return li;
      }),
    );
    if (!entries.length) list.append(emptyItem("Nothing yet."));
  } catch (error) {
    list.replaceChildren(emptyItem(`History cannot be loaded: ${error.message}`));
  }
}

function column(name) {
  return name || "a deleted column";
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
  // Someone changed the open card (a board event): follow it, without losing the user's edits.
  boardEl.addEventListener(CARD_CHANGED, ({ detail }) => {
    const { card, actor } = detail;
    if (!dialog.open || card.id !== dialogCardId || !loaded) return;
    if (card.version <= loaded.version) return; // this dialog's own write, or older news
    if (card.archived) return; // CARD_REMOVED closes the dialog
    if (!editForm) {
      fillDialog(card);
    } else {
      const who = actor ? actor.username : "Someone";
      mergeTheirs(card, () => who);
    }
    loadHistory(card.id);
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
      const mine = formValues();
      if (!mine.title) {
        setStatus("A card needs a title.", true);
        editForm.elements.title.focus();
        return;
      }
      // Only what the user changed, from the version they saw: a colleague's change to
      // another field is never written back over.
      const body = {};
      for (const name of EDITABLE) {
        if (!same(mine[name], norm(name, loaded[name]))) body[name] = mine[name];
      }
      if (!Object.keys(body).length) {
        setStatus("Nothing to save.");
        return;
      }
      body.version = loaded.version;
      setStatus("Saving…");
      try {
        const card = await api("PATCH", `/cards/${id}/`, body);
        if (dialogCardId === id) {
          fillDialog(card);
          setStatus("Saved.");
          loadHistory(id);
        }
        refreshCard(id);
      } catch (error) {
        if (error.code === "version_conflict" && error.payload.card && dialogCardId === id) {
          const by = new Map((error.payload.changes || []).map((c) => [c.field, c.by || "Obeya"]));
          mergeTheirs(error.payload.card, (name) => by.get(name) || "Someone");
          setStatus(`${error.message} Your changes are still here: save again to keep them.`, true);
          loadHistory(id);
        } else {
          setStatus(error.message, true);
        }
      }
    });

    document.getElementById("dlg-archive").addEventListener("click", async () => {
      const id = dialogCardId;
      try {
        await api("PATCH", `/cards/${id}/`, { archived: true, version: loaded.version });
        const title = loaded.title;
        dialog.close();
        removeCard(id);
        showMessage(`“${title}” archived. Archived cards can be restored from the board's Archived list.`, {
          kind: "info",
        });
      } catch (error) {
        if (error.code === "version_conflict" && error.payload.card) {
          mergeTheirs(error.payload.card, () => "Someone");
        }
        setStatus(error.message, true);
      }
    });

    const confirmBox = document.getElementById("dlg-delete-confirm");
    document.getElementById("dlg-delete").addEventListener("click", () => {
      confirmBox.hidden = false;
      document.getElementById("dlg-delete-no").focus();
    });
    document.getElementById("dlg-delete-no").addEventListener("click", () => {
      confirmBox.hidden = true;
      document.getElementById("dlg-delete").focus();
    });
    document.getElementById("dlg-delete-yes").addEventListener("click", async () => {
      const id = dialogCardId;
      try {
        await api("DELETE", `/cards/${id}/`);
        const title = loaded.title;
        dialog.close();
        removeCard(id);
        showMessage(`“${title}” deleted.`, { kind: "info" });
      } catch (error) {
        setStatus(error.message, true);
      }
    });
    dialog.addEventListener("close", () => (confirmBox.hidden = true));

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
      if (fresh) mergeTheirs(fresh, () => "Someone");
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
        mergeTheirs(card, () => "Someone");
        loadHistory(id);
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
        mergeTheirs(card, () => "Someone");
        loadHistory(id);
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
        loadHistory(id);
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
