/* Live updates for the board page, over the board's websocket (DESIGN.md's contract), through
 * lib/socket.js: events applied strictly in seq order (InOrder), a resync from the last applied
 * seq on a gap, after a reconnect (the hello carries the board's seq) or when a ping's pong is
 * ahead, so that no viewer stays on a stale board. It changes the page only through cards.js.
 *
 * Test hook: window.obeyaLive = {seq, state} (tests/browser wait for state "live").
 */

import { api } from "../lib/api.js";
import { InOrder, LiveSocket } from "../lib/socket.js";
import { boardEl, boardId } from "./context.js";
import {
  CARD_CHANGED,
  currentSeq,
  noteSeq,
  placeCard,
  refreshCard,
  removeCard,
} from "./cards.js";

const WORDS = {
  live: "Live",
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  unavailable: "Live updates unavailable · retrying",
};

// --- the indicator: connection state and who is watching ------------------------------------

function makeIndicator() {
  const bar = boardEl.querySelector(".board-bar") || boardEl;
  // The page renders the indicator (its space is there from the first paint); make one for a
  // page that does not.
  let indicator = boardEl.querySelector(".live-indicator");
  if (!indicator) {
    indicator = document.createElement("span");
    indicator.className = "live-indicator";
    indicator.setAttribute("role", "status");
    indicator.setAttribute("aria-live", "polite");
    const anchor = bar.querySelector(".board-links") || bar.querySelector("h1");
    if (anchor) anchor.insertAdjacentElement("afterend", indicator);
    else bar.appendChild(indicator);
  }
  return { indicator, bar };
}

// --- alerts banner -----------------------------------------------------------------------------

function makeBanner(bar) {
  // Rendered with the board's open alerts; the API's list and the socket keep it current.
  let banner = boardEl.querySelector(".alerts-banner");
  if (!banner) {
    banner = document.createElement("ul");
    banner.className = "alerts-banner";
    banner.setAttribute("aria-label", "Open alerts");
    banner.hidden = true;
    bar.insertAdjacentElement("afterend", banner);
  }
  return banner;
}

function showAlert(banner, alert) {
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

let reloadTimer = null;

function reloadSoon() {
  // Columns, lanes and labels shape the whole page: render it again, once.
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => window.location.reload(), 300);
}

function applyTo(banner) {
  return (event) => {
    const data = event.data || {};
    const card = data.card && typeof data.card === "object" ? data.card : null;
    if (card && event.type !== "card.deleted") {
      // The card dialog follows its card (dialog.js): fields nobody is editing refresh, and a
      // field being edited that someone else changed asks which to keep.
      boardEl.dispatchEvent(
        new CustomEvent(CARD_CHANGED, { detail: { card, actor: event.actor, type: event.type } }),
      );
    }
    switch (event.type) {
      case "card.moved":
        if (!slide(card.id, () => placeCard(card.id, card.column, card.swimlane, card.position))) {
          refreshCard(card.id);
        }
        break;
      case "card.created":
      case "card.updated":
      case "card.blocked":
      case "card.unblocked":
      case "card.restored":
        refreshCard(card.id);
        break;
      case "card.archived":
      case "card.deleted":
        removeCard(card.id);
        break;
      case "alert.raised":
      case "alert.closed":
        showAlert(banner, data.alert);
        break;
      case "card.wait_added":
      case "card.wait_ended":
        // `card` is this board's card of the wait (the waiting one or the one waited on)
        refreshCard(data.card);
        break;
      case "card.commented":
        break;
      default:
        if (/^(column|swimlane|label|board)\./.test(event.type)) reloadSoon();
    }
    noteSeq(event.seq);
  };
}

// --- the connection ---------------------------------------------------------------------------

export function startLive() {
  if (!("WebSocket" in window)) return;
  const { indicator, bar } = makeIndicator();
  const banner = makeBanner(bar);
  let viewers = null;

  function showState(state) {
    indicator.dataset.state = state;
    const watching = state === "live" && viewers ? ` · ${viewers} viewing` : "";
    indicator.textContent = (WORDS[state] || state) + watching;
    indicator.title =
      state === "live"
        ? "Moves by anyone appear here as they happen." +
          (viewers ? ` ${viewers} people have this board open.` : "")
        : "The live connection dropped; the board catches up as soon as it is back.";
  }

  api("GET", `/boards/${boardId}/alerts/?page_size=50`)
    .then((alerts) => alerts.results.forEach((alert) => showAlert(banner, alert)))
    .catch(() => {});

  let socket = null;
  const inOrder = new InOrder(currentSeq(), applyTo(banner), (since) =>
    socket.send({ type: "resync", since }),
  );
  socket = new LiveSocket(`/ws/boards/${boardId}/`, {
    onState: showState,
    onMessage(event) {
      switch (event.type) {
        case "hello":
          if (event.seq !== inOrder.lastSeq) inOrder.resync(); // missed something while away
          break;
        case "pong":
          inOrder.serverAt(event.seq);
          break;
        case "presence":
          viewers = event.count;
          showState(socket.state);
          break;
        case "snapshot":
          // Too far behind for a replay: the page renders the board as it is now.
          window.location.reload();
          break;
        case "error":
        case "metrics.updated":
          break;
        default:
          if (typeof event.seq === "number") inOrder.receive(event);
      }
    },
  });

  window.obeyaLive = {
    get seq() {
      return inOrder.lastSeq;
    },
    get state() {
      return indicator.dataset.state;
    },
  };
  socket.connect();
}
