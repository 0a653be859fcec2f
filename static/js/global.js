/* Live updates for the global board, over the organisation's one websocket (/ws/orgs/{slug}/,
 * see DEVELOPERS.md): its hello and pongs carry every board's seq, and it says
 * `board.changed` (board, seq), `board.created` and `board.deleted` as they commit.
 *
 * The grid is the server's to draw (filters, stages, ordering, "done in the last 7 days"), so
 * the page does not patch cards: on any change to a board in scope it fetches the grid again
 * for the current URL and swaps it in, at most once per 300 ms, keeping the scroll position.
 * The grid says which seq of each board it reflects (data-boards="id:seq,..."); a change, a
 * hello or a pong with a later seq for one of them fetches it (after a reconnect, or a missed
 * message), so the page never stays behind.
 *
 * Test hook: window.obeyaGlobal = {state, refreshes, seqOf(boardId)}.
 */

import { fetchFragment } from "./lib/api.js";
import { LiveSocket } from "./lib/socket.js";

const DEBOUNCE_MS = 300;
const WORDS = {
  live: "Live",
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  unavailable: "Live updates unavailable · retrying",
  "signed out": "Not live",
};

const page = document.querySelector(".org-page[data-org]");
const scroller = document.querySelector(".global-scroll");
const known = new Map(); // board id -> seq the grid on screen reflects
let refreshTimer = null;
let refreshing = false;
let again = false;
let refreshes = 0;

function readSeqs() {
  const grid = document.getElementById("global-grid");
  known.clear();
  for (const pair of (grid.dataset.boards || "").split(",")) {
    const [id, seq] = pair.split(":").map(Number);
    if (id) known.set(id, seq || 0);
  }
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, DEBOUNCE_MS);
}

async function refresh() {
  if (refreshing) {
    again = true; // a change arrived during the fetch: fetch once more after it
    return;
  }
  refreshing = true;
  again = false;
  try {
    const { content } = await fetchFragment(window.location.href, { "X-Obeya-Fragment": "grid" });
    const fresh = content && content.getElementById("global-grid");
    const old = document.getElementById("global-grid");
    if (fresh && old) {
      const top = scroller.scrollTop;
      const left = scroller.scrollLeft;
      const windowY = window.scrollY;
      old.replaceWith(fresh);
      scroller.scrollTop = top;
      scroller.scrollLeft = left;
      window.scrollTo(window.scrollX, windowY);
      readSeqs();
      refreshes += 1;
    }
  } catch (networkError) {
    /* the next change, or the reconnect's hello, tries again */
  } finally {
    refreshing = false;
    if (again) scheduleRefresh();
  }
}

/** A board in scope is at `seq`: fetch the grid when it shows less. */
function noteSeq(boardId, seq) {
  if (!known.has(boardId)) return; // not shown here (another team's, under a team filter)
  if (typeof seq === "number" && seq > known.get(boardId)) scheduleRefresh();
}

function noteAll(boards) {
  for (const [id, seq] of Object.entries(boards || {})) noteSeq(Number(id), seq);
  // A board shown here that is gone
  for (const id of known.keys()) if (boards && !(String(id) in boards)) scheduleRefresh();
}

function start() {
  const indicator = document.createElement("span");
  indicator.className = "live-indicator";
  indicator.setAttribute("role", "status");
  indicator.setAttribute("aria-live", "polite");
  const bar = page.querySelector(".org-bar");
  bar.insertBefore(indicator, bar.querySelector(".global-filters"));

  function showState(state) {
    indicator.dataset.state = state;
    indicator.textContent = WORDS[state] || state;
    indicator.title =
      state === "live"
        ? `Changes on the ${known.size} board${known.size === 1 ? "" : "s"} shown appear here as they happen.`
        : "The live connection dropped; the board catches up as soon as it is back.";
  }

  readSeqs();
  const socket = new LiveSocket(`/ws/orgs/${encodeURIComponent(page.dataset.org)}/`, {
    onState: showState,
    onMessage(event) {
      switch (event.type) {
        case "hello": // anything missed before or while away
        case "pong":
          noteAll(event.boards);
          break;
        case "board.changed":
          noteSeq(event.board, event.seq);
          break;
        case "board.created": // it may be in scope: the server knows
          scheduleRefresh();
          break;
        case "board.deleted":
          if (known.has(event.board)) scheduleRefresh();
          break;
        default:
          break;
      }
    },
  });

  window.obeyaGlobal = {
    get state() {
      return indicator.dataset.state;
    },
    get refreshes() {
      return refreshes;
    },
    seqOf: (boardId) => known.get(Number(boardId)),
  };
  socket.connect();
}

if (page && scroller && document.getElementById("global-grid") && "WebSocket" in window) start();
