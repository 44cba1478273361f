// The event WebSocket (/api/events): resumes from the last sequence after a drop, with
// exponential backoff, and reports "live" / "reconnecting" / "offline".
// The gateway closes with 4000 + an HTTP status on errors: 4401 (token refused) and 4403
// (role too low) are not retried; 4422 neither (the query is wrong); the rest is.
// Besides `onEvent` (every event), parts of the page subscribe to one kind with `on(kind, fn)`
// (the scan view listens to "scan") and to "open" (after every (re)connect).

import { wsUrl } from "./api.js";

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;
const FATAL_CODES = new Set([4401, 4403, 4422]);

export class EventStream {
  /**
   * @param {object} handlers
   * @param {(event: object, frame: object) => void} handlers.onEvent
   * @param {(state: string, detail?: string) => void} handlers.onState
   * @param {() => void} handlers.onOpen called after every (re)connect
   * @param {() => void} handlers.onRefused the socket closed before opening: check the token
   * @param {(close: CloseEvent) => void} handlers.onFatal closed with 4401/4403/4422
   */
  constructor({ onEvent, onState, onOpen, onRefused, onFatal }) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.onOpen = onOpen;
    this.onRefused = onRefused;
    this.onFatal = onFatal;
    this.lastSeq = null;
    this.attempt = 0;
    this.ws = null;
    this.timer = null;
    this.stopped = true;
    this.listeners = new Map(); // kind ("scan", "status"... or "open") -> Set of functions
  }

  /** Calls `fn(event, frame)` for every event of `kind` ("open": fn() after a connect).
   * Returns the function that unsubscribes. */
  on(kind, fn) {
    if (!this.listeners.has(kind)) this.listeners.set(kind, new Set());
    this.listeners.get(kind).add(fn);
    return () => this.listeners.get(kind)?.delete(fn);
  }

  dispatch(kind, ...args) {
    for (const fn of this.listeners.get(kind) || []) {
      try {
        fn(...args);
      } catch (err) {
        reportError(err); // an uncaught error as usual, but the other listeners still run
      }
    }
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000, "bye");
    }
    this.onState("offline");
  }

  connect() {
    if (this.stopped) return;
    const params = this.lastSeq === null ? {} : { since: this.lastSeq };
    const ws = new WebSocket(wsUrl("/api/events", params));
    this.ws = ws;
    let opened = false;
    ws.addEventListener("open", () => {
      if (this.ws !== ws) return;
      opened = true;
      this.attempt = 0;
      this.onState("live");
      this.onOpen?.();
      this.dispatch("open");
    });
    ws.addEventListener("message", (message) => {
      if (this.ws !== ws) return;
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (typeof frame.seq === "number") {
        // a resumed stream may repeat what we saw: keep each event once
        if (this.lastSeq !== null && frame.seq <= this.lastSeq) return;
        this.lastSeq = frame.seq;
      }
      if (!frame.event) return;
      this.onEvent(frame.event, frame);
      if (typeof frame.event.kind === "string" && frame.event.kind !== "open") {
        this.dispatch(frame.event.kind, frame.event, frame);
      }
    });
    ws.addEventListener("close", (close) => {
      if (this.ws !== ws || this.stopped) return;
      this.ws = null;
      if (FATAL_CODES.has(close.code)) {
        this.stopped = true;
        this.onState("offline", close.reason);
        this.onFatal?.(close);
        return;
      }
      if (!opened) this.onRefused?.(close);
      this.scheduleReconnect(close);
    });
  }

  scheduleReconnect(close) {
    if (this.stopped) return;
    const base = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.attempt);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt += 1;
    const why = close?.reason ? ` (${close.reason})` : "";
    this.onState("reconnecting", `reconnecting in ${Math.ceil(delay / 1000)} s${why}`);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** Drop the socket now (as a network failure would); used by tests and "reconnect". */
  drop() {
    this.ws?.close(4000, "dropped by client");
  }
}
