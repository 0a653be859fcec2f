/* The one reconnecting websocket of the pages (the board's /ws/boards/{id}/, the global board's
 * /ws/orgs/{slug}/), and the ordering of a board's events by seq (DESIGN.md's contract).
 *
 * LiveSocket reconnects after any close with a backoff (500 ms doubling to 10 s, with jitter),
 * reset only by the server's `hello` (a server that accepts and drops at once must not be
 * hammered); it stops for good on 4401 (signed out, access revoked) and 4404 (not found). A
 * ping every 25 s lets the owner notice a silent gap (the pong carries the seq), and coming
 * back online pings at once, or reconnects a dead socket without waiting.
 *
 * InOrder applies a board's events strictly in seq order: one that skips ahead waits a moment
 * for the missing ones (two server processes may deliver out of order), then the owner resyncs
 * from the last applied seq; so does a hello or pong carrying a later seq than applied.
 */

const PING_MS = 25000;
const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 10000;
export const STOP_CODES = new Set([4401, 4404]);

export class LiveSocket {
  /**
   * @param {string} path  e.g. "/ws/boards/12/"
   * @param {{onMessage: (message: object) => void, onState?: (state: string) => void}} handlers
   *   states: "connecting", "live", "reconnecting", "unavailable" (the server said live updates
   *   are down and it will retry), "signed out" (closed 4401/4404: no retry)
   */
  constructor(path, { onMessage, onState = () => {} }) {
    this.path = path;
    this.onMessage = onMessage;
    this.onState = onState;
    this.socket = null;
    this.backoff = FIRST_BACKOFF_MS;
    this.everConnected = false;
    this.unavailable = false;
    this.stopped = false;
    this.state = "connecting";
    this.pingTimer = null;
    this.retryTimer = null;
    this.onOnline = () => this.comeBackOnline();
    window.addEventListener("online", this.onOnline);
  }

  get url() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return `${scheme}${window.location.host}${this.path}`;
  }

  setState(state) {
    this.state = state;
    this.onState(state);
  }

  connect() {
    if (this.stopped) return;
    this.setState(this.socket ? "reconnecting" : "connecting");
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.onopen = () => {
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send({ type: "ping" }), PING_MS);
    };
    socket.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (notJson) {
        return;
      }
      if (event.type === "hello") {
        this.backoff = FIRST_BACKOFF_MS; // only once the server really serves us live
        this.setState("live");
      } else if (event.type === "error" && event.code === "live_unavailable") {
        this.unavailable = true;
      }
      const reconnected = event.type === "hello" && this.everConnected;
      if (event.type === "hello") this.everConnected = true;
      this.onMessage(event, { reconnected });
    };
    socket.onclose = (close) => {
      clearInterval(this.pingTimer);
      if (this.socket !== socket || this.stopped) return;
      if (STOP_CODES.has(close.code)) {
        this.stopped = true; // signed out, or no longer allowed: do not hammer the server
        this.setState("signed out");
        return;
      }
      this.setState(this.unavailable ? "unavailable" : "reconnecting");
      this.unavailable = false;
      const delay = this.backoff + Math.random() * this.backoff * 0.3;
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
      this.retryTimer = setTimeout(() => this.connect(), delay);
    };
    return this;
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  comeBackOnline() {
    // A socket that survived may have lost messages meanwhile: ask for the seq at once (the
    // owner resyncs on a pong that is ahead); a dead one reconnects now.
    this.backoff = FIRST_BACKOFF_MS;
    if (this.stopped || !this.socket) return;
    if (this.socket.readyState === WebSocket.OPEN) {
      this.send({ type: "ping" });
    } else if (this.socket.readyState === WebSocket.CLOSED) {
      clearTimeout(this.retryTimer);
      this.connect();
    }
  }

  close() {
    this.stopped = true;
    clearInterval(this.pingTimer);
    clearTimeout(this.retryTimer);
    window.removeEventListener("online", this.onOnline);
    if (this.socket) this.socket.close();
  }
}

const GAP_WAIT_MS = 400;

export class InOrder {
  /**
   * @param {number} lastSeq  the seq the page already reflects
   * @param {(event: object) => void} apply  called once per event, in seq order
   * @param {(since: number) => void} resync  ask the server for everything after `since`
   */
  constructor(lastSeq, apply, resync) {
    this.lastSeq = lastSeq;
    this.apply = apply;
    this.resyncFrom = resync;
    this.buffered = new Map(); // seq -> event that arrived ahead of its turn
    this.gapTimer = null;
  }

  receive(event) {
    if (event.seq <= this.lastSeq) return; // already applied (our own move, a replay overlap)
    this.buffered.set(event.seq, event);
    while (this.buffered.has(this.lastSeq + 1)) {
      const next = this.buffered.get(this.lastSeq + 1);
      this.buffered.delete(this.lastSeq + 1);
      this.apply(next);
      this.lastSeq = next.seq;
    }
    if (this.buffered.size && !this.gapTimer) {
      this.gapTimer = setTimeout(() => {
        this.gapTimer = null;
        if (this.buffered.size) this.resync();
      }, GAP_WAIT_MS);
    }
  }

  /** The server's seq (a pong's): resync when it is ahead of what was applied. */
  serverAt(seq) {
    if (typeof seq === "number" && seq > this.lastSeq) this.resync();
  }

  resync() {
    this.buffered.clear();
    this.resyncFrom(this.lastSeq);
  }
}
