// The live feed: one WebSocket to /api/v1/ws. Authenticates with its first message (browsers cannot set
// headers on a WebSocket), then receives a snapshot and one message per event. When the socket drops or
// goes silent the dashboard is marked stale and reconnects with exponential backoff and jitter.

import { store } from "./store.js";

const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
// The server pings every 15 s; three missed pings means the link is dead even if no close arrived.
const SILENCE_LIMIT_MS = 45000;
// The server refused this token (4401) or this kind of principal (4403): retrying cannot help.
const AUTH_REJECTED = new Set([4401, 4403]);

export class LiveConnection {
  /**
   * @param {{token: string, onSnapshot: Function, onEvent: Function, onAuthRejected: Function}} options
   */
  constructor({ token, onSnapshot, onEvent, onAuthRejected }) {
    this.token = token;
    this.onSnapshot = onSnapshot;
    this.onEvent = onEvent;
    this.onAuthRejected = onAuthRejected;
    this.ws = null;
    this.attempt = 0;
    this.stopped = true;
    this.retryTimer = null;
    this.watchdog = null;
    this.lastMessageAt = 0;
  }

  start() {
    this.stopped = false;
    this.connect();
    this.watchdog = setInterval(() => this.checkSilence(), 5000);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.watchdog);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, "signed out");
  }

  /** Skip the remaining backoff wait (the stale banner's "Reconnect now"). */
  reconnectNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${location.host}/api/v1/ws`;
  }

  connect() {
    this.retryTimer = null;
    store.setConnection(this.attempt === 0 ? "connecting" : "reconnecting", { attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (err) {
      console.warn("cannot open the live connection", err);
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    this.lastMessageAt = Date.now();
    ws.addEventListener("open", () => {
      ws.send(JSON.stringify({ type: "auth", token: this.token }));
    });
    ws.addEventListener("message", (event) => {
      if (this.ws !== ws) return;
      this.lastMessageAt = Date.now();
      store.lastMessageAt = this.lastMessageAt;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        console.warn("live message is not JSON; ignored");
        return;
      }
      if (message.type === "snapshot") {
        this.attempt = 0;
        store.setConnection("live");
        this.onSnapshot(message);
      } else if (message.type !== "ping") {
        this.onEvent(message);
      }
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (AUTH_REJECTED.has(event.code)) {
        store.setConnection("rejected");
        this.stopped = true;
        clearInterval(this.watchdog);
        this.onAuthRejected();
        return;
      }
      this.scheduleRetry();
    });
  }

  scheduleRetry() {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt += 1;
    store.setConnection("stale", { retryAt: Date.now() + delay, attempt: this.attempt });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  checkSilence() {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && Date.now() - this.lastMessageAt > SILENCE_LIMIT_MS) {
      console.warn("live connection silent; reconnecting");
      const ws = this.ws;
      this.ws = null;
      ws.close(4000, "silent");
      this.scheduleRetry();
    }
  }
}
