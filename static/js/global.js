/* Live updates for the global board, over each shown board's websocket (/ws/boards/{id}/, the
 * board page's contract: hello with the board's seq, then its events in seq order).
 *
 * The grid is the server's to draw (filters, stages, ordering, "done in the last 7 days"), so
 * the page does not patch cards: on any change to a board in scope it fetches the grid again
 * for the current URL and swaps it in, at most once per 300 ms, keeping the scroll position.
 * The grid says which seq of each board it reflects (data-boards="id:seq,..."); a hello or a
 * pong carrying a later seq (after a reconnect, or a missed message) fetches it as well, so
 * the page never stays behind.
 */
(function () {
  "use strict";

  const page = document.querySelector(".org-page");
  const scroller = document.querySelector(".global-scroll");
  if (!page || !scroller || !document.getElementById("global-grid")) return;

  const DEBOUNCE_MS = 300;
  const PING_MS = 25000;
  const known = new Map(); // board id -> seq the grid on screen reflects
  const sockets = new Map(); // board id -> {socket, backoff, open, stopped}
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

  // --- the indicator -----------------------------------------------------------------------------

  const indicator = document.createElement("span");
  indicator.className = "live-indicator";
  indicator.setAttribute("role", "status");
  indicator.setAttribute("aria-live", "polite");
  const bar = page.querySelector(".org-bar");
  bar.insertBefore(indicator, bar.querySelector(".global-filters"));

  function showState() {
    const all = Array.from(sockets.values()).filter((s) => !s.stopped);
    const open = all.filter((s) => s.open).length;
    let state = "live";
    if (all.some((s) => s.everOpen && !s.open)) state = "reconnecting";
    else if (open < all.length) state = "connecting";
    indicator.dataset.state = state;
    indicator.textContent = { live: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…" }[state];
    indicator.title =
      state === "live"
        ? `Changes on the ${all.length} board${all.length === 1 ? "" : "s"} shown appear here as they happen.`
        : "A live connection dropped; the board catches up as soon as it is back.";
  }

  // --- fetching the grid again ---------------------------------------------------------------------

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
      const response = await fetch(window.location.href, {
        credentials: "same-origin",
        headers: { "X-Obeya-Fragment": "grid", Accept: "text/html" },
      });
      if (response.ok && !response.redirected) {
        const template = document.createElement("template");
        template.innerHTML = (await response.text()).trim();
        const fresh = template.content.getElementById("global-grid");
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
          syncSockets();
          refreshes += 1;
        }
      }
    } catch (networkError) {
      /* the next event, or the reconnect's hello, tries again */
    } finally {
      refreshing = false;
      if (again) scheduleRefresh();
    }
  }

  function noteSeq(boardId, seq) {
    if (typeof seq === "number" && seq > (known.get(boardId) || 0)) scheduleRefresh();
  }

  // --- one socket per board ------------------------------------------------------------------------

  function connect(boardId) {
    const entry = sockets.get(boardId) || { backoff: 500, open: false, everOpen: false };
    sockets.set(boardId, entry);
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(`${scheme}${window.location.host}/ws/boards/${boardId}/`);
    entry.socket = socket;
    socket.onopen = () => {
      clearInterval(entry.ping);
      entry.ping = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
      }, PING_MS);
    };
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      switch (event.type) {
        case "hello":
          entry.backoff = 500; // only once the board is really live (see live.js)
          entry.open = true;
          entry.everOpen = true;
          showState();
          noteSeq(boardId, event.seq); // anything missed before or while away
          break;
        case "pong":
          noteSeq(boardId, event.seq);
          break;
        case "snapshot":
          scheduleRefresh();
          break;
        case "presence":
        case "metrics.updated":
        case "error":
          break;
        default:
          // card.*, column.*, swimlane.*, label.*, board.*: the grid may have changed. Alerts and
          // comments do not change it, but they advance the seq: keep the count honest anyway.
          if (typeof event.seq === "number") noteSeq(boardId, event.seq);
      }
    };
    socket.onclose = (close) => {
      clearInterval(entry.ping);
      entry.open = false;
      if (entry.stopped) return;
      if (close.code === 4401 || close.code === 4404) {
        entry.stopped = true; // signed out, or the board is gone: do not hammer the server
        showState();
        return;
      }
      showState();
      const delay = entry.backoff + Math.random() * entry.backoff * 0.3;
      entry.backoff = Math.min(entry.backoff * 2, 10000);
      entry.retry = setTimeout(() => connect(boardId), delay);
    };
  }

  function syncSockets() {
    // The boards in scope rarely change (a new board, a team filter); follow them.
    for (const boardId of known.keys()) if (!sockets.has(boardId)) connect(boardId);
    for (const [boardId, entry] of sockets) {
      if (!known.has(boardId)) {
        entry.stopped = true;
        clearTimeout(entry.retry);
        if (entry.socket) entry.socket.close();
        sockets.delete(boardId);
      }
    }
    showState();
  }

  window.addEventListener("online", () => {
    for (const entry of sockets.values()) {
      if (entry.socket && entry.socket.readyState !== WebSocket.OPEN) {
        entry.backoff = 500;
        try {
          entry.socket.close();
        } catch (e) {
          /* already closed */
        }
      }
    }
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

  if (!("WebSocket" in window)) return;
  readSeqs();
  showState();
  syncSockets();
})();
