/* Live updates for the board page, over the board's websocket (DESIGN.md's contract).
 *
 * The client keeps the last seq it applied. Events are applied strictly in seq order; a seq
 * that skips ahead waits a moment for the missing ones (two server processes may deliver out
 * of order) and then asks the server to replay the log from the last applied seq. Every
 * (re)connection starts with a hello carrying the board's seq, so a client that missed
 * anything while offline resyncs at once, and a ping every 25 s catches a silent gap. No
 * viewer stays on a stale board.
 *
 * It changes the page only through window.obeyaBoard (board.js): placeCard, refreshCard,
 * removeCard, recomputeWip.
 */
(function () {
  "use strict";

  const board = window.obeyaBoard;
  const boardEl = document.querySelector(".board[data-board-id]");
  if (!board || !boardEl || !("WebSocket" in window)) return;

  const GAP_WAIT_MS = 400;
  const PING_MS = 25000;
  let lastSeq = board.seq;
  let socket = null;
  let backoff = 500;
  let gapTimer = null;
  let pingTimer = null;
  let reloadTimer = null;
  let unavailable = false; // the server said live updates are down (Redis): it will retry
  const buffered = new Map(); // seq -> event that arrived ahead of its turn

  // --- the indicator: connection state and who is watching ------------------------------------

  const indicator = document.createElement("span");
  indicator.className = "live-indicator";
  indicator.setAttribute("role", "status");
  indicator.setAttribute("aria-live", "polite");
  const bar = boardEl.querySelector(".board-bar") || boardEl;
  const anchor = bar.querySelector(".board-links") || bar.querySelector("h1");
  if (anchor) anchor.insertAdjacentElement("afterend", indicator);
  else bar.appendChild(indicator);
  let viewers = null;

  function showState(state) {
    indicator.dataset.state = state;
    const words = {
      live: "Live",
      connecting: "Connecting…",
      reconnecting: "Reconnecting…",
      unavailable: "Live updates unavailable · retrying",
    };
    const watching = state === "live" && viewers ? ` · ${viewers} viewing` : "";
    indicator.textContent = (words[state] || state) + watching;
    indicator.title =
      state === "live"
        ? "Moves by anyone appear here as they happen." + (viewers ? ` ${viewers} people have this board open.` : "")
        : "The live connection dropped; the board catches up as soon as it is back.";
  }

  // --- alerts banner -----------------------------------------------------------------------------

  const banner = document.createElement("ul");
  banner.className = "alerts-banner";
  banner.setAttribute("aria-label", "Open alerts");
  banner.hidden = true;
  bar.insertAdjacentElement("afterend", banner);

  function showAlert(alert) {
    let item = banner.querySelector(`[data-alert-id="${alert.id}"]`);
    if (!alert.open) {
      if (item) item.remove();
    } else {
      if (!item) {
        item = document.createElement("li");
        item.dataset.alertId = alert.id;
        banner.appendChild(item);
      }
      item.className = "alert kind-" + alert.kind;
      item.textContent = alert.detail;
    }
    banner.hidden = banner.children.length === 0;
  }

  fetch(`/api/v1/boards/${board.boardId}/alerts/?page_size=50`, { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : { results: [] }))
    .then((page) => page.results.forEach(showAlert))
    .catch(() => {});

  // --- applying events ------------------------------------------------------------------------

  function slide(cardId, move) {
    // FLIP: remember where the card was, move it, then animate from there to its new place.
    const el = boardEl.querySelector(`.card[data-card-id="${Number(cardId)}"]`);
    const before = el ? el.getBoundingClientRect() : null;
    const moved = move();
    const after = el && el.isConnected ? el.getBoundingClientRect() : null;
    if (before && after && (before.left !== after.left || before.top !== after.top)) {
      el.style.transition = "none";
      el.style.transform = `translate(${before.left - after.left}px, ${before.top - after.top}px)`;
      requestAnimationFrame(() => {
        el.style.transition = "transform 260ms ease";
        el.style.transform = "";
      });
      el.classList.add("just-moved");
      setTimeout(() => el.classList.remove("just-moved"), 1600);
    }
    return moved;
  }

  function reloadSoon() {
    // Columns, lanes and labels shape the whole page: render it again, once.
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => window.location.reload(), 300);
  }

  function apply(event) {
    const data = event.data || {};
    const card = data.card && typeof data.card === "object" ? data.card : null;
    switch (event.type) {
      case "card.moved":
        if (!slide(card.id, () => board.placeCard(card.id, card.column, card.swimlane, card.position))) {
          board.refreshCard(card.id);
        }
        break;
      case "card.created":
      case "card.updated":
      case "card.blocked":
      case "card.unblocked":
      case "card.restored":
        board.refreshCard(card.id);
        break;
      case "card.archived":
      case "card.deleted":
        board.removeCard(card.id);
        break;
      case "alert.raised":
      case "alert.closed":
        showAlert(data.alert);
        break;
      case "card.commented":
        break;
      default:
        if (/^(column|swimlane|label|board)\./.test(event.type)) reloadSoon();
    }
  }

  function receiveEvent(event) {
    if (event.seq <= lastSeq) return; // already applied (our own move, or a replay overlap)
    buffered.set(event.seq, event);
    while (buffered.has(lastSeq + 1)) {
      const next = buffered.get(lastSeq + 1);
      buffered.delete(lastSeq + 1);
      apply(next);
      lastSeq = next.seq;
      board.noteSeq(lastSeq);
    }
    if (buffered.size && !gapTimer) {
      gapTimer = setTimeout(() => {
        gapTimer = null;
        if (buffered.size) resync();
      }, GAP_WAIT_MS);
    }
  }

  function resync() {
    buffered.clear();
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "resync", since: lastSeq }));
    }
  }

  // --- the connection ---------------------------------------------------------------------------

  function connect() {
    showState(socket ? "reconnecting" : "connecting");
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(`${scheme}${window.location.host}/ws/boards/${board.boardId}/`);
    socket.onopen = () => {
      clearInterval(pingTimer);
      pingTimer = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
      }, PING_MS);
    };
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      switch (event.type) {
        case "hello":
          backoff = 500; // reset only once the server really serves the board live
          showState("live");
          if (event.seq !== lastSeq) resync(); // missed something while away
          break;
        case "pong":
          if (event.seq > lastSeq) resync();
          break;
        case "presence":
          viewers = event.count;
          showState("live");
          break;
        case "snapshot":
          // Too far behind for a replay: the page renders the board as it is now.
          window.location.reload();
          break;
        case "error":
          if (event.code === "live_unavailable") unavailable = true;
          break;
        case "metrics.updated":
          break;
        default:
          if (typeof event.seq === "number") receiveEvent(event);
      }
    };
    socket.onclose = (close) => {
      clearInterval(pingTimer);
      if (close.code === 4401 || close.code === 4404) {
        showState("signed out");
        return; // logged out or no longer allowed: do not hammer the server
      }
      showState(unavailable ? "unavailable" : "reconnecting");
      unavailable = false;
      const delay = backoff + Math.random() * backoff * 0.3;
      backoff = Math.min(backoff * 2, 10000);
      setTimeout(connect, delay);
    };
  }

  window.addEventListener("online", () => {
    // Back from offline: a socket that survived may have lost messages meanwhile, so ask for
    // the seq at once (the pong triggers a resync when behind); a dead one reconnects now.
    backoff = 500;
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "ping" }));
    } else if (socket && socket.readyState === WebSocket.CLOSED) {
      connect();
    }
  });

  window.obeyaLive = {
    get seq() {
      return lastSeq;
    },
    get state() {
      return indicator.dataset.state;
    },
  };
  connect();
})();
