/* The board page: drag and drop (SortableJS), keyboard moves, quick-add, the card dialog and
 * the filters. Plain ES, no build step.
 *
 * Every write goes through the REST API (/api/v1/) with the session's CSRF token, and the
 * server stays the judge: a move lands where it was dropped, and goes back with the server's
 * sentence when the server refuses it (a hard WIP limit, no right to write).
 *
 * window.obeyaBoard is the small API the live-update client builds on:
 *   placeCard(cardId, columnId, swimlaneId, position)  move the card's node to that index
 *   refreshCard(cardId)     fetch the card's fragment and replace (or insert) its node
 *   removeCard(cardId)      take the card off the page
 *   setWip(columnId, wip) / recomputeWip()
 *   boardId, seq (getter), noteSeq(seq)
 */
(function () {
  "use strict";

  const boardEl = document.querySelector(".board[data-board-id]");
  if (!boardEl) return;
  const page = JSON.parse(document.getElementById("board-data").textContent);
  const boardId = page.board;
  const canWrite = page.canWrite;
  const API = "/api/v1";
  const columnsById = new Map(page.columns.map((c) => [c.id, c]));
  const lanesById = new Map(page.swimlanes.map((s) => [s.id, s]));
  const peopleById = new Map(page.people.map((p) => [p.id, p]));
  const labelsById = new Map(page.labels.map((l) => [l.id, l]));

  // --- talking to the server ------------------------------------------------------------------

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  class ApiError extends Error {
    constructor(status, payload) {
      super((payload && payload.detail) || `The server answered ${status}: try again.`);
      this.status = status;
      this.code = payload && payload.code;
      this.fields = (payload && payload.fields) || {};
    }
  }

  async function api(method, path, body) {
    let response;
    try {
      response = await fetch(API + path, {
        method,
        credentials: "same-origin",
        headers: {
          Accept: "application/json",
          "Content-Type": "application/json",
          "X-CSRFToken": csrfToken(),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (networkError) {
      throw new ApiError(0, { detail: "The server cannot be reached: check the connection." });
    }
    let payload = null;
    if (response.status !== 204) {
      try {
        payload = await response.json();
      } catch (notJson) {
        payload = null;
      }
    }
    if (!response.ok) throw new ApiError(response.status, payload);
    return payload;
  }

  // --- the DOM of the board -------------------------------------------------------------------

  const cardEl = (id) => boardEl.querySelector(`.card[data-card-id="${Number(id)}"]`);
  const cellEl = (columnId, swimlaneId) =>
    boardEl.querySelector(
      `.cell[data-column-id="${Number(columnId)}"][data-swimlane-id="${Number(swimlaneId)}"]`,
    );
  const listOf = (cell) => cell.querySelector("ol.cards");
  const cardsIn = (list) => Array.from(list.children).filter((el) => el.matches(".card"));
  const visibleCardsIn = (list) => cardsIn(list).filter((el) => !el.hidden);

  function placeOf(card) {
    const cell = card.closest(".cell");
    return {
      column: Number(cell.dataset.columnId),
      swimlane: Number(cell.dataset.swimlaneId),
      position: cardsIn(card.parentElement).indexOf(card),
    };
  }

  function insertAt(list, card, index) {
    const hadFocus = document.activeElement === card;
    const others = cardsIn(list).filter((el) => el !== card);
    list.insertBefore(card, others[index] || null);
    if (hadFocus) card.focus({ preventScroll: false });
  }

  function placeName(place) {
    const column = columnsById.get(place.column);
    const lane = lanesById.get(place.swimlane);
    const name = column ? column.name : "?";
    return page.swimlanes.length > 1 && lane ? `${name} · ${lane.name}` : name;
  }

  function placeCard(cardId, columnId, swimlaneId, position) {
    const card = cardEl(cardId);
    const cell = cellEl(columnId, swimlaneId);
    if (!card || !cell) return false;
    insertAt(listOf(cell), card, position);
    recomputeWip();
    return true;
  }

  function removeCard(cardId) {
    const card = cardEl(cardId);
    if (card) card.remove();
    recomputeWip();
    updateCount();
    if (dialogCardId === Number(cardId) && dialog.open) {
      dialog.close();
      showMessage("That card was archived or deleted.", { kind: "info" });
    }
  }

  async function refreshCard(cardId) {
    const response = await fetch(`/boards/${boardId}/cards/${Number(cardId)}/fragment/`, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    });
    if (response.status === 404) {
      removeCard(cardId);
      return null;
    }
    if (!response.ok || response.redirected) return null;
    const template = document.createElement("template");
    template.innerHTML = (await response.text()).trim();
    const fresh = template.content.querySelector(".card");
    if (!fresh) return null;
    const old = cardEl(cardId);
    fresh.hidden = !matches(fresh, currentFilters());
    if (old) {
      const hadFocus = document.activeElement === old;
      if (old.classList.contains("is-grabbed")) fresh.classList.add("is-grabbed");
      old.replaceWith(fresh);
      if (hadFocus) fresh.focus({ preventScroll: true });
    } else {
      const cell = cellEl(
        response.headers.get("X-Card-Column"),
        response.headers.get("X-Card-Swimlane"),
      );
      if (!cell) return null;
      insertAt(listOf(cell), fresh, Number(response.headers.get("X-Card-Position")));
    }
    recomputeWip();
    updateCount();
    return fresh;
  }

  // --- WIP ---------------------------------------------------------------------------------------

  function setWip(columnId, wip) {
    const head = boardEl.querySelector(`.column-head[data-column-id="${Number(columnId)}"]`);
    if (!head) return;
    head.querySelector(".wip-n").textContent = String(wip);
    const limit = head.dataset.wipLimit ? Number(head.dataset.wipLimit) : null;
    head.classList.toggle("at-limit", limit !== null && wip >= limit);
    head.classList.toggle("over-limit", limit !== null && wip > limit);
  }

  function recomputeWip() {
    for (const column of page.columns) {
      const wip = boardEl.querySelectorAll(
        `.cell[data-column-id="${column.id}"] .card`,
      ).length;
      setWip(column.id, wip);
    }
    for (const lane of boardEl.querySelectorAll(".lane")) {
      lane.querySelector(".lane-count").textContent = String(lane.querySelectorAll(".card").length);
    }
  }

  function wipOf(columnId) {
    const head = boardEl.querySelector(`.column-head[data-column-id="${columnId}"]`);
    return {
      wip: Number(head.querySelector(".wip-n").textContent),
      limit: head.dataset.wipLimit ? Number(head.dataset.wipLimit) : null,
      hard: head.dataset.wipPolicy === "hard",
    };
  }

  function noteSeq(seq) {
    if (typeof seq === "number" && seq > Number(boardEl.dataset.seq || 0)) {
      boardEl.dataset.seq = String(seq);
    }
  }

  // --- messages -------------------------------------------------------------------------------

  const toast = document.getElementById("board-message");
  const live = document.getElementById("board-live");
  let toastTimer = null;

  function announce(text) {
    live.textContent = "";
    window.setTimeout(() => (live.textContent = text), 30);
  }

  function hideMessage() {
    toast.hidden = true;
    window.clearTimeout(toastTimer);
  }

  function showMessage(text, { kind = "error", actions = null, sticky = false } = {}) {
    window.clearTimeout(toastTimer);
    toast.className = `toast toast-${kind}`;
    toast.querySelector(".toast-text").textContent = text;
    const slot = toast.querySelector(".toast-actions");
    slot.replaceChildren();
    if (actions) slot.append(actions);
    toast.hidden = false;
    if (!sticky && !actions) toastTimer = window.setTimeout(hideMessage, 8000);
  }

  toast.querySelector(".toast-close").addEventListener("click", hideMessage);

  // --- moving cards --------------------------------------------------------------------------

  /** Send a move the page already shows. `origin` ({list, index}) is where the card goes back
   * to if the server refuses. */
  async function sendMove(card, target, origin, overrideReason) {
    const id = Number(card.dataset.cardId);
    const body = { column: target.column, swimlane: target.swimlane, position: target.position };
    if (overrideReason) body.override_reason = overrideReason;
    card.classList.add("is-saving");
    card.setAttribute("aria-busy", "true");
    try {
      const result = await api("POST", `/cards/${id}/move/`, body);
      noteSeq(result.seq);
      const c = result.card;
      // The server clamps a position past the end of a cell: show its answer.
      placeCard(id, c.column, c.swimlane, c.position);
      announce(`${c.title}: moved to ${placeName(c)}, position ${c.position + 1}.`);
      hideMessage();
      refreshCard(id); // its age and ageing cue may have changed with the column
      return true;
    } catch (error) {
      if (origin && card.isConnected) insertAt(origin.list, card, origin.index);
      recomputeWip();
      refused(card, target, origin, error);
      return false;
    } finally {
      card.classList.remove("is-saving");
      card.removeAttribute("aria-busy");
    }
  }

  function refused(card, target, origin, error) {
    const title = card.querySelector(".card-title").textContent.trim();
    let actions = null;
    if (error.code === "wip_limit_exceeded" && page.isManager) {
      actions = overrideForm(card, target, origin);
    }
    showMessage(`“${title}” was not moved. ${error.message}`, { actions });
    announce(`Not moved. ${error.message}`);
  }

  /** Owners and admins may pass a hard limit with a reason, which the history records. */
  function overrideForm(card, target, origin) {
    const form = document.createElement("form");
    form.className = "override";
    const id = `override-${card.dataset.cardId}`;
    form.innerHTML =
      `<label for="${id}">Pass the limit anyway, because</label>` +
      `<input id="${id}" name="reason" required maxlength="500" placeholder="reason, kept in the history">` +
      `<button type="submit">Move anyway</button>`;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const reason = form.elements.reason.value.trim();
      if (!reason) return;
      insertAt(listOf(cellEl(target.column, target.swimlane)), card, target.position);
      sendMove(card, target, origin, reason);
    });
    return form;
  }

  // Columns at a hard limit show it while a card is dragged: the server will refuse the drop.
  function markFullColumns(card, on) {
    const from = card ? placeOf(card).column : null;
    for (const column of page.columns) {
      const w = on ? wipOf(column.id) : null;
      const full = on && column.id !== from && w.hard && w.limit !== null && w.wip >= w.limit;
      for (const cell of boardEl.querySelectorAll(`.cell[data-column-id="${column.id}"]`)) {
        cell.classList.toggle("is-full", Boolean(full));
      }
    }
  }

  let lastDragEnd = 0;

  function enableDragAndDrop() {
    if (!canWrite || typeof window.Sortable === "undefined") return;
    let origin = null;
    for (const list of boardEl.querySelectorAll("ol.cards")) {
      window.Sortable.create(list, {
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

  // --- keyboard -------------------------------------------------------------------------------

  let grabbed = null; // {card, origin}

  function lanesInOrder() {
    return Array.from(boardEl.querySelectorAll(".lane"));
  }

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
    announce(`${placeName(place)}, position ${place.position + 1} of ${cardsIn(card.parentElement).length}.`);
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

  // --- clicks: open a card, quick-add, lanes, policies ------------------------------------------

  boardEl.addEventListener("click", (event) => {
    const add = event.target.closest(".quick-add-open");
    if (add) return openQuickAdd(add.closest(".cell"));
    const toggle = event.target.closest(".lane-toggle");
    if (toggle) return toggleLane(toggle.closest(".lane"));
    const card = event.target.closest(".card");
    if (card && Date.now() - lastDragEnd > 250 && !grabbed) openCard(card.dataset.cardId);
  });

  // Only one column policy open at a time; a click elsewhere or Escape closes it.
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

  const collapsedKey = `obeya:board:${boardId}:collapsed`;

  function toggleLane(lane, collapse) {
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

  function restoreLanes() {
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

  function openQuickAdd(cell) {
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

  function escapeHtml(text) {
    const div = document.createElement("div");
    div.textContent = text;
    return div.innerHTML;
  }

  // --- filters --------------------------------------------------------------------------------

  const filterForm = document.querySelector("form.filters");
  const mine = document.getElementById("filter-mine");
  const clearLink = filterForm.querySelector(".clear");

  function currentFilters() {
    const f = filterForm.elements;
    return {
      q: f.q.value.trim().toLowerCase(),
      assignee: f.assignee.value,
      label: f.label.value,
      blocked: f.blocked.checked,
    };
  }

  /** The same rules as Filters.matches in boards/views.py, which renders the first view. */
  function matches(card, f) {
    if (f.blocked && card.dataset.blocked !== "true") return false;
    if (f.assignee && !card.dataset.assignees.split(" ").includes(f.assignee)) return false;
    if (f.label && !card.dataset.labels.split(" ").includes(f.label)) return false;
    if (f.q) {
      const title = card.querySelector(".card-title").textContent.trim();
      const haystack = `${title} ${card.dataset.customer || ""} #${card.dataset.cardId}`.toLowerCase();
      return f.q.split(/\s+/).every((word) => haystack.includes(word));
    }
    return true;
  }

  function isActive(f) {
    return Boolean(f.q || f.assignee || f.label || f.blocked);
  }

  function updateCount() {
    const all = boardEl.querySelectorAll(".card");
    const f = currentFilters();
    const shown = Array.from(all).filter((c) => !c.hidden).length;
    document.getElementById("filter-count").textContent = isActive(f)
      ? `${shown} of ${all.length} cards`
      : `${all.length} cards`;
  }

  function applyFilters() {
    const f = currentFilters();
    for (const card of boardEl.querySelectorAll(".card")) card.hidden = !matches(card, f);
    mine.checked = f.assignee !== "" && f.assignee === mine.dataset.me;
    clearLink.hidden = !isActive(f);
    updateCount();
    const params = new URLSearchParams(window.location.search);
    for (const [name, value] of [
      ["q", filterForm.elements.q.value.trim()],
      ["assignee", f.assignee],
      ["label", f.label],
      ["blocked", f.blocked ? "true" : ""],
    ]) {
      if (value) params.set(name, value);
      else params.delete(name);
    }
    const query = params.toString();
    const url = window.location.pathname + (query ? `?${query}` : "") + window.location.hash;
    window.history.replaceState(window.history.state, "", url);
  }

  let filterTimer = null;
  filterForm.addEventListener("input", (event) => {
    if (event.target === mine) return;
    window.clearTimeout(filterTimer);
    filterTimer = window.setTimeout(applyFilters, event.target.type === "search" ? 120 : 0);
  });
  filterForm.addEventListener("change", (event) => {
    if (event.target === mine) {
      filterForm.elements.assignee.value = mine.checked ? mine.dataset.me : "";
    }
    applyFilters();
  });
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    applyFilters();
  });
  clearLink.addEventListener("click", (event) => {
    event.preventDefault();
    filterForm.reset();
    for (const select of filterForm.querySelectorAll("select")) select.value = "";
    filterForm.elements.q.value = "";
    filterForm.elements.blocked.checked = false;
    applyFilters();
    filterForm.elements.q.focus();
  });

  // --- the card dialog ------------------------------------------------------------------------

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

  async function openCard(id) {
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
  }

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

  // --- start ----------------------------------------------------------------------------------

  window.obeyaBoard = {
    boardId,
    get seq() {
      return Number(boardEl.dataset.seq || 0);
    },
    noteSeq,
    placeCard,
    refreshCard,
    removeCard,
    setWip,
    recomputeWip,
    applyFilters,
    openCard,
  };

  restoreLanes();
  enableDragAndDrop();
  const deepLink = window.location.hash.match(/^#card-(\d+)$/);
  if (deepLink) openCard(deepLink[1]);
})();
