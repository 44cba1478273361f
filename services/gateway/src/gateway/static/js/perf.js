// The load test view (#perf/<model>/<n>[/<test id>]): a form to start a test, the selected
// test live from `perf` events (numbers and inline-SVG charts of its samples, never polled),
// once it is over its per-endpoint stats and errors, the app's history, and two tests compared.

import { api, describeError, seg } from "./api.js";
import { $, formatDuration, h } from "./dom.js";

const DONE = new Set(["COMPLETE", "STOPPED", "FAILED", "ERROR"]);
const SVG = "http://www.w3.org/2000/svg";
const CHARTS = [
  { id: "rps", title: "Requests per second", lines: [["rps", "RPS"], ["fail_rps", "failures/s"]] },
  { id: "latency", title: "Response time (ms)", lines: [["p50_ms", "p50"], ["p95_ms", "p95"]] },
  { id: "users", title: "Users", lines: [["users", "users"]] },
];
const RESULT_RETRY_MS = 400;
const RESULT_WAIT_MS = 20_000;

export const perfHash = (model, number) => `#perf/${seg(model)}/${number}`;

const ms = (v) => (v === null || v === undefined ? "–" : `${Math.round(v)} ms`);
const num = (v, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : "–");

/** "GET /api/tasks 3" -> {method, path, weight}; a lone "/path" is a GET. */
export function parseEndpoints(text) {
  const endpoints = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    let parts = line.split(/\s+/);
    if (parts.length === 1) parts = ["GET", parts[0]];
    if (parts.length > 3 || (parts[2] !== undefined && !/^\d+$/.test(parts[2]))) {
      throw new Error(`not "METHOD /path [weight]": ${line}`);
    }
    const endpoint = { method: parts[0].toUpperCase(), path: parts[1] };
    if (parts[2] !== undefined) endpoint.weight = Number(parts[2]);
    endpoints.push(endpoint);
  }
  return endpoints.length ? endpoints : null;
}

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

/** A line chart of `series` (samples) drawn as inline SVG; null values leave gaps. */
export function lineChart(series, chart) {
  const W = 360, H = 150, L = 40, B = 20, T = 8, R = 8; // prettier-ignore
  const xs = series.map((s) => s.t);
  const xMax = Math.max(1, ...xs);
  const values = chart.lines.flatMap(([key]) => series.map((s) => s[key]).filter(Number.isFinite));
  const yMax = Math.max(1, ...values) * 1.1;
  const x = (t) => L + (t / xMax) * (W - L - R);
  const y = (v) => H - B - (v / yMax) * (H - B - T);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": chart.title });
  root.dataset.chart = chart.id;
  root.append(svg("title", {}, chart.title));
  root.append(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }));
  root.append(svg("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }));
  root.append(svg("text", { x: L - 4, y: T + 8, class: "tick", "text-anchor": "end" }, Math.round(yMax)));
  root.append(svg("text", { x: L - 4, y: H - B, class: "tick", "text-anchor": "end" }, "0"));
  root.append(svg("text", { x: W - R, y: H - 4, class: "tick", "text-anchor": "end" }, `${Math.round(xMax)} s`));
  chart.lines.forEach(([key, label], i) => {
    let d = "";
    let pen = false;
    for (const s of series) {
      const v = s[key];
      if (!Number.isFinite(v)) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${x(s.t).toFixed(1)},${y(v).toFixed(1)} `;
      pen = true;
    }
    root.append(svg("path", { d: d.trim() || "M0,0", class: `series s${i}`, "data-series": key }));
    root.append(svg("text", { x: L + 6 + i * 80, y: T + 10, class: `legend s${i}` }, label));
  });
  return root;
}

export class PerfView {
  /**
   * @param {object} opts
   * @param {import("./live.js").EventStream} opts.events
   * @param {(model: string, number: number) => {color: string, title: string, running: boolean|null}} opts.appInfo
   */
  constructor({ events, appInfo }) {
    this.section = $("#perfview");
    this.appInfo = appInfo;
    this.target = null;
    this.tests = new Map(); // test_id -> PerfStatus
    this.samples = new Map(); // test_id -> [PerfSample] seen live
    this.selected = "";
    this.result = null; // {testId, data}
    this.compared = []; // up to two test ids
    events.on("perf", (event) => this.onPerf(event.status));
    events.on("open", () => {
      if (this.target) this.loadHistory().catch(() => {});
    });
    $("#perf-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.start();
    });
    $("#perf-stop").addEventListener("click", () => this.stop());
  }

  open(model, number, testId = "") {
    if (this.target && this.target.model === model && this.target.number === number) {
      if (testId && testId !== this.selected) this.select(testId);
      return;
    }
    this.target = { model, number };
    this.tests = new Map();
    this.samples = new Map();
    this.selected = testId;
    this.result = null;
    this.compared = [];
    const info = this.appInfo(model, number);
    this.section.dataset.app = `${model}/app${number}`;
    this.section.style.setProperty("--model-color", info.color);
    $("#perf-title").textContent = `Load tests: ${info.title} · app${number}`;
    $("#perf-form-result").textContent = info.running === false ? "This app is not running: start it first." : "";
    $("#perf-compare").replaceChildren();
    this.section.hidden = false;
    this.render();
    this.loadHistory().catch(() => {});
    window.scrollTo({ top: 0 });
  }

  close() {
    this.target = null;
    this.section.hidden = true;
    delete this.section.dataset.app;
  }

  async loadHistory() {
    const { model, number } = this.target;
    const history = await api("GET", `/api/apps/${seg(model)}/${number}/perf`);
    for (const status of history.tests) {
      const known = this.tests.get(status.test_id);
      if (!known || !DONE.has(known.state) || DONE.has(status.state)) this.tests.set(status.test_id, status);
    }
    if (!this.selected && history.tests.length) this.selected = history.tests[0].test_id;
    this.render();
    const selected = this.tests.get(this.selected);
    if (selected && DONE.has(selected.state)) this.loadResult(selected);
  }

  onPerf(status) {
    if (!this.target || status.model !== this.target.model || status.app !== this.target.number) return;
    this.tests.set(status.test_id, status);
    if (status.last && status.state === "RUNNING") {
      const seen = this.samples.get(status.test_id) || [];
      if (!seen.length || seen[seen.length - 1].t < status.last.t) seen.push(status.last);
      this.samples.set(status.test_id, seen);
    }
    if (!this.selected) this.selected = status.test_id;
    this.render();
    if (status.test_id === this.selected && DONE.has(status.state) && status.summary) this.loadResult(status);
  }

  select(testId) {
    this.selected = testId;
    this.result = null;
    this.render();
    const status = this.tests.get(testId);
    if (status && DONE.has(status.state)) this.loadResult(status);
  }

  async start() {
    const { model, number } = this.target;
    const out = $("#perf-form-result");
    let endpoints;
    try {
      endpoints = parseEndpoints($("#perf-endpoints").value);
    } catch (err) {
      out.textContent = err.message;
      return;
    }
    const body = {
      model,
      app: number,
      target: $("#perf-target").value,
      users: Number($("#perf-users").value),
      spawn_rate: Number($("#perf-rate").value),
      duration_s: Number($("#perf-duration").value),
      endpoints,
    };
    out.textContent = "starting…";
    try {
      const status = await api("POST", "/api/perf", body);
      this.tests.set(status.test_id, status);
      this.selected = status.test_id;
      this.result = null;
      out.textContent = `load test ${status.test_id} started`;
      this.render();
    } catch (err) {
      out.textContent = describeError(err);
    }
  }

  async stop() {
    try {
      this.onPerf(await api("POST", `/api/perf/${seg(this.selected)}/stop`));
    } catch (err) {
      $("#perf-form-result").textContent = describeError(err);
    }
  }

  async loadResult(status) {
    if (this.result?.testId === status.test_id) return;
    this.result = { testId: status.test_id, data: null };
    const deadline = Date.now() + RESULT_WAIT_MS;
    while (this.result?.testId === status.test_id) {
      try {
        this.result.data = await api("GET", `/api/perf/${seg(status.test_id)}/result`);
        break;
      } catch (err) {
        // the final event may come a moment before the result is stored; a FAILED test has none
        if (err.status !== 404 || Date.now() > deadline || !status.summary) break;
        await new Promise((r) => setTimeout(r, RESULT_RETRY_MS));
      }
    }
    this.render();
  }

  toggleCompare(testId, on) {
    this.compared = this.compared.filter((id) => id !== testId);
    if (on) this.compared = [...this.compared, testId].slice(-2);
    this.renderHistory();
    if (this.compared.length === 2) this.compare();
    else $("#perf-compare").replaceChildren();
  }

  async compare() {
    const [a, b] = this.compared;
    const box = $("#perf-compare");
    try {
      const cmp = await api("GET", `/api/perf/compare?a=${seg(a)}&b=${seg(b)}`);
      const rows = cmp.totals.map((d) =>
        h("tr", { dataset: { metric: d.metric, better: d.better } },
          h("th", { scope: "row" }, d.metric), h("td", {}, num(d.a)), h("td", {}, num(d.b)),
          h("td", {}, d.change_pct === null ? "–" : `${d.change_pct > 0 ? "+" : ""}${d.change_pct.toFixed(1)} %`),
          h("td", { class: `better-${d.better}` }, d.better)),
      );
      box.replaceChildren(
        h("h3", {}, `Compared: a = ${a}, b = ${b}`),
        h("table", { dataset: { testid: "perf-compare-table" } },
          h("thead", {}, h("tr", {}, ["metric", "a", "b", "change", "better"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, rows)),
      );
    } catch (err) {
      box.replaceChildren(h("p", { class: "error" }, `compare: ${describeError(err)}`));
    }
  }

  // --- rendering -----------------------------------------------------------------------------
  render() {
    this.renderHistory();
    this.renderDetail();
  }

  renderHistory() {
    const ordered = [...this.tests.values()].sort((a, b) => (b.started_at ?? Infinity) - (a.started_at ?? Infinity));
    $("#perf-history").replaceChildren(
      ...ordered.map((t) => {
        const s = t.summary;
        return h("li", { dataset: { test: t.test_id, state: t.state }, class: t.test_id === this.selected ? "selected" : "" },
          h("input", {
            type: "checkbox", "aria-label": `Compare ${t.test_id}`, checked: this.compared.includes(t.test_id),
            disabled: !s, onchange: (e) => this.toggleCompare(t.test_id, e.currentTarget.checked),
          }),
          h("a", { href: `${perfHash(t.model, t.app)}/${seg(t.test_id)}` }, `${t.state} · ${t.users} users`),
          h("span", { class: "muted" }, s ? ` ${num(s.rps)} RPS, p95 ${ms(s.p95_ms)}` : ""));
      }),
    );
    $("#perf-empty").hidden = this.tests.size > 0;
  }

  renderDetail() {
    const status = this.tests.get(this.selected);
    const detail = $("#perf-detail");
    detail.hidden = !status;
    if (!status) return;
    const last = status.last || {};
    $("#perf-state").textContent = status.state;
    $("#perf-state").dataset.state = status.state;
    $("#perf-id").textContent = status.test_id;
    $("#perf-stop").hidden = DONE.has(status.state);
    $("#perf-error").hidden = !status.error;
    $("#perf-error").textContent = status.error || "";
    const numbers = [
      ["users", last.users ?? 0], ["RPS", num(last.rps)], ["failures/s", num(last.fail_rps)],
      ["p50", ms(last.p50_ms)], ["p95", ms(last.p95_ms)], ["requests", last.requests ?? 0],
      ["failures", last.failures ?? 0], ["elapsed", `${formatDuration(last.t ?? 0)} / ${formatDuration(status.duration_s)}`],
    ]; // prettier-ignore
    $("#perf-numbers").replaceChildren(
      ...numbers.map(([label, value]) => h("div", { class: "stat", dataset: { stat: label } }, h("span", { class: "label" }, label), ` ${value}`)),
    );
    const data = this.result?.testId === status.test_id ? this.result.data : null;
    const series = data ? data.series : this.samples.get(status.test_id) || [];
    $("#perf-charts").replaceChildren(...CHARTS.map((chart) => lineChart(series, chart)));
    this.renderResult(data);
  }

  renderResult(data) {
    const box = $("#perf-result");
    box.hidden = !data;
    if (!data) return;
    const rows = [...data.endpoints, ...(data.totals ? [data.totals] : [])].map((e) =>
      h("tr", { dataset: { endpoint: e.method ? `${e.method} ${e.name}` : "total" } },
        h("th", { scope: "row" }, e.method ? `${e.method} ${e.name}` : "total"),
        ...[e.requests, e.failures, ms(e.avg_ms), ms(e.median_ms), ms(e.p95_ms), ms(e.p99_ms), num(e.rps)].map((v) => h("td", {}, v))),
    );
    $("#perf-endpoints-table tbody").replaceChildren(...rows);
    $("#perf-errors").replaceChildren(
      ...data.errors.map((e) => h("li", {}, `${e.occurrences} × ${e.error} on ${e.method} ${e.name}`)),
    );
    $("#perf-errors-empty").hidden = data.errors.length > 0;
  }
}
