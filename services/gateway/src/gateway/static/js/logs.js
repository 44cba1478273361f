// The live log view: the last lines of an app (or one service), then a follow WebSocket.
// Closing the view closes the socket.

import { api, describeError, notifyUnauthorized, seg, wsUrl } from "./api.js";
import { $, h, shortTime } from "./dom.js";

const TAIL = 200;
const MAX_LINES = 2000;
// terminal colour and cursor sequences (Flask, npm...): shown as plain text
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07/g;

export class LogView {
  constructor() {
    this.panel = $("#logview");
    this.title = $("#logview-title");
    this.select = $("#log-service");
    this.lines = $("#log-lines");
    this.state = $("#log-state");
    this.ws = null;
    this.generation = 0;
    this.target = null;
    $("#log-close").addEventListener("click", () => this.close());
    $("#log-clear").addEventListener("click", () => this.lines.replaceChildren());
    this.select.addEventListener("change", () => this.load());
    this.panel.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.close();
    });
  }

  get isOpen() {
    return !this.panel.hidden;
  }

  /** Show the logs of `model`/app`number`; `services` are the app's service names. */
  open(model, number, services, service = "") {
    this.target = { model, number };
    this.title.textContent = `Logs: ${model}/app${number}`;
    this.panel.dataset.app = `${model}/app${number}`;
    this.select.replaceChildren(
      h("option", { value: "" }, "all services"),
      ...services.map((name) => h("option", { value: name }, name)),
    );
    this.select.value = service;
    this.panel.hidden = false;
    document.body.classList.add("with-logs");
    this.load();
    this.lines.focus({ preventScroll: true });
  }

  close() {
    this.stopFollowing();
    this.generation += 1;
    this.target = null;
    this.panel.hidden = true;
    delete this.panel.dataset.app;
    document.body.classList.remove("with-logs");
    this.lines.replaceChildren();
  }

  stopFollowing() {
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000, "view closed");
    }
  }

  async load() {
    if (!this.target) return;
    this.stopFollowing();
    const generation = ++this.generation;
    const { model, number } = this.target;
    const service = this.select.value;
    this.lines.replaceChildren();
    this.setState("loading", "loading…");
    const query = new URLSearchParams({ tail: String(TAIL) });
    if (service) query.set("service", service);
    try {
      const reply = await api("GET", `/api/apps/${seg(model)}/${seg(number)}/logs?${query}`);
      if (generation !== this.generation) return;
      this.append(reply.lines || []);
    } catch (err) {
      if (generation !== this.generation) return;
      this.setState("error", `could not load logs: ${describeError(err)}`);
      return;
    }
    this.follow(generation, model, number, service);
  }

  follow(generation, model, number, service) {
    const path = `/api/apps/${seg(model)}/${seg(number)}/logs/follow`;
    // tail=0: the window above already holds the last lines
    const ws = new WebSocket(wsUrl(path, { service, tail: 0 }));
    this.ws = ws;
    this.setState("connecting", "connecting…");
    ws.addEventListener("open", () => {
      if (generation === this.generation) this.setState("following", "following");
    });
    ws.addEventListener("message", (message) => {
      if (generation !== this.generation) return;
      let chunk;
      try {
        chunk = JSON.parse(message.data);
      } catch {
        return;
      }
      if (Array.isArray(chunk.lines)) this.append(chunk.lines);
      if (chunk.end) this.setState("ended", `stream ended${chunk.reason ? `: ${chunk.reason}` : ""}`);
    });
    ws.addEventListener("close", (close) => {
      if (generation !== this.generation || this.ws !== ws) return;
      this.ws = null;
      if (close.code === 4401) {
        this.close();
        notifyUnauthorized();
      } else if (close.code === 4403) {
        this.setState("error", "your role cannot do this");
      } else if (this.lines.dataset.state !== "ended") {
        const why = close.reason || (close.code === 1000 ? "" : `code ${close.code}`);
        this.setState(close.code === 1000 ? "ended" : "closed", `${close.code === 1000 ? "stream ended" : "disconnected"}${why ? `: ${why}` : ""}`);
      }
    });
  }

  setState(state, text) {
    this.lines.dataset.state = state;
    this.state.dataset.state = state;
    this.state.textContent = text;
  }

  /** LogLine is array_like: [service, stream, ts, line]. */
  append(lines) {
    if (!lines.length) return;
    const box = this.lines;
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 24;
    const fragment = document.createDocumentFragment();
    for (const entry of lines) {
      const [service, stream, ts, line] = Array.isArray(entry)
        ? entry
        : [entry.service, entry.stream, entry.ts, entry.line];
      fragment.append(
        h(
          "div",
          { class: `log-line ${stream === "stderr" ? "stderr" : ""}`, dataset: { service } },
          h("span", { class: "ts" }, shortTime(ts)),
          h("span", { class: "svc" }, service),
          h("span", { class: "text" }, String(line ?? "").replace(ANSI, "")),
        ),
      );
    }
    box.append(fragment);
    while (box.childElementCount > MAX_LINES) box.firstElementChild.remove();
    if (atBottom) box.scrollTop = box.scrollHeight;
  }
}
