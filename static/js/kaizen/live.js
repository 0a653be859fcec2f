// The improvements page hears its board's improvement events (improvement.started,
// improvement.reviewed, boards/kaizen/services.py) on the board's websocket and says so, with a
// link that reads the page again: the tables and charts are the server's, and reloading under
// the reader's eyes would lose what they were reading or typing in the form.
import { LiveSocket } from "../lib/socket.js";

const root = document.querySelector(".kaizen-page");
// A live region rendered empty with the page (so that its change is announced), filled here.
const notice = document.getElementById("kaizen-live");
const KINDS = { "improvement.started": "started", "improvement.reviewed": "reviewed" };

if (root && notice && "WebSocket" in window) {
  let heard = 0;
  new LiveSocket(`/ws/boards/${root.dataset.boardId}/`, {
    onMessage(message) {
      const done = KINDS[message.type];
      if (!done) return;
      const improvement = (message.data || {}).improvement || {};
      const who = message.actor ? message.actor.name || message.actor.username : "The review date";
      const what = done === "reviewed" && improvement.final === false ? "took an interim look at" : done;
      const reload = document.createElement("a");
      reload.href = ""; // the page again, as the server renders it now
      reload.textContent = "Reload the page";
      notice.replaceChildren(`${who} ${what} “${improvement.title || "an improvement"}”. `, reload, " to see it.");
      heard += 1;
      root.dataset.liveEvents = String(heard);
    },
    onState(state) {
      root.dataset.live = state; // "live" once the server said hello (tests wait on it)
    },
  }).connect();
}
