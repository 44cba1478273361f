// The requirements view (#analysis/<model>/<n>[/<analysis id>]): an app's analyses, a form to
// start one with a chosen checking model, the selected analysis live from `analysis` events (one
// per requirement checked), its requirements table (met, confidence, explanation, evidence;
// or failed with the model's raw answer, or unavailable), and the per-model summary.

import { api, describeError, seg } from "./api.js";
import { $, h } from "./dom.js";

const DONE = new Set(["COMPLETE", "UNAVAILABLE", "FAILED", "ERROR", "STOPPED"]);
const SVG = "http://www.w3.org/2000/svg";

export const analysisHash = (model, number) => `#analysis/${seg(model)}/${number}`;

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** A horizontal bar: met (green), not met, failed, unavailable, as parts of the total. */
function bar(counts, width = 160) {
  const total = counts.total || 1;
  const parts = [
    ["met", counts.met, "var(--analysis-met, #16a34a)"],
    ["not met", counts.not_met ?? 0, "var(--analysis-notmet, #dc2626)"],
    ["failed", counts.failed ?? 0, "var(--analysis-failed, #9ca3af)"],
    ["unavailable", counts.unavailable ?? 0, "var(--analysis-unavailable, #d1d5db)"],
  ];
  const el = svg("svg", { width, height: 12, role: "img", class: "analysis-bar" });
  let x = 0;
  const label = [];
  for (const [name, n, color] of parts) {
    if (!n) continue;
    const w = (n / total) * width;
    el.append(svg("rect", { x, y: 0, width: w, height: 12, fill: color }));
    x += w;
    label.push(`${n} ${name}`);
  }
  el.setAttribute("aria-label", label.join(", ") || "nothing checked");
  return el;
}

function verdictCell(r) {
  if (r.status === "verdict") {
    return h("span", { class: `verdict ${r.met ? "met" : "not-met"}`, dataset: { testid: "verdict" } },
      r.met ? "met" : "not met");
  }
  return h("span", { class: `verdict ${r.status}`, dataset: { testid: "verdict" } },
    r.status === "failed" ? "failed (no usable answer)" : "unavailable");
}

function evidenceCell(r) {
  if (r.status !== "verdict") {
    return h("div", {},
      h("p", { class: "muted" }, r.error || ""),
      r.raw ? h("details", {}, h("summary", {}, "the model's answer"), h("pre", { class: "raw" }, r.raw)) : null);
  }
  return h("div", {},
    h("p", {}, r.explanation),
    h("ul", { class: "evidence" }, r.evidence.map((e) =>
      h("li", { class: e.valid ? "valid" : "invalid", title: e.valid ? "checked in the app" : e.note },
        `${e.file}${e.start ? `:${e.start}-${e.end}` : ""}`, e.valid ? "" : ` (${e.note})`))));
}

export class AnalysisView {
  /**
   * @param {object} opts
   * @param {import("./live.js").EventStream} opts.events the event socket
   * @param {(model: string, number: number) => {color: string, title: string}} opts.appInfo
   */
  constructor({ events, appInfo }) {
    this.section = $("#analysisview");
    this.appInfo = appInfo;
    this.target = null;
    this.analyses = new Map();
    this.selected = "";
    this.results = new Map(); // analysis id -> Map(requirement id -> RequirementResult)
    events.on("analysis", (event) => this.onEvent(event));
    events.on("open", () => {
      if (this.target) this.load().catch(() => {});
    });
    this.build();
  }

  build() {
    this.llm = h("select", { id: "analysis-llm", dataset: { testid: "analysis-llm" }, "aria-label": "Checking model" });
    this.cache = h("input", { type: "checkbox", id: "analysis-cache", checked: true });
    this.formResult = h("p", { class: "result", role: "status", dataset: { testid: "analysis-form-result" } });
    this.history = h("ol", { dataset: { testid: "analysis-history" } });
    this.state = h("span", { class: "scan-state", dataset: { testid: "analysis-state" }, role: "status" });
    this.progress = h("progress", { max: 100, value: 0, dataset: { testid: "analysis-progress" } });
    this.counts = h("span", { dataset: { testid: "analysis-counts" } });
    this.error = h("p", { class: "scan-error", role: "alert", hidden: true });
    this.stop = h("button", { type: "button", class: "small secondary", hidden: true, dataset: { testid: "analysis-stop" },
      onclick: () => this.stopAnalysis() }, "Stop");
    this.table = h("tbody", { dataset: { testid: "analysis-requirements" } });
    this.summary = h("tbody", { dataset: { testid: "analysis-summary" } });
    this.title = h("h2", {}, "Requirements");
    this.section.append(
      h("header", { class: "scan-head" }, h("a", { href: "#", class: "back" }, "← Fleet"), this.title),
      h("div", { class: "scan-layout" },
        h("aside", { class: "scan-side" },
          h("form", { dataset: { testid: "analysis-form" }, onsubmit: (e) => { e.preventDefault(); this.start(); } },
            h("h3", {}, "Check the requirements"),
            h("label", { for: "analysis-llm" }, "Checking model"), this.llm,
            h("label", {}, this.cache, " reuse results for unchanged code"),
            h("button", { type: "submit", class: "small", dataset: { testid: "analysis-start" } }, "Start analysis"),
            this.formResult),
          h("h3", {}, "History"), this.history),
        h("div", { class: "scan-main" },
          h("header", { class: "detail-head" }, this.state, this.counts, this.stop),
          this.error,
          h("div", { class: "progress-row" }, h("label", {}, "Requirements"), this.progress),
          h("table", { class: "analysis-table" },
            h("thead", {}, h("tr", {}, h("th", {}, "Requirement"), h("th", {}, "Result"),
              h("th", {}, "Confidence"), h("th", {}, "Explanation and evidence"))),
            this.table),
          h("h3", {}, "Per model"),
          h("table", { class: "analysis-table" },
            h("thead", {}, h("tr", {}, h("th", {}, "Model"), h("th", {}, "Checked by"), h("th", {}, "Apps"),
              h("th", {}, "Met / total"), h("th", {}, ""))),
            this.summary))),
    );
  }

  get isOpen() {
    return this.target !== null;
  }

  open(model, number, analysisId = "") {
    const same = this.target && this.target.model === model && this.target.number === number;
    this.target = { model, number };
    if (!same) {
      this.analyses = new Map();
      const info = this.appInfo(model, number);
      this.section.style.setProperty("--model-color", info.color);
      this.title.textContent = `Requirements: ${info.title} · app${number}`;
      this.formResult.textContent = "";
      this.loadModels().catch(() => {});
    }
    this.selected = analysisId;
    this.section.hidden = false;
    this.load().catch((err) => { this.formResult.textContent = describeError(err); });
  }

  close() {
    this.target = null;
    this.section.hidden = true;
  }

  async loadModels() {
    const { llms } = await api("GET", "/api/llms");
    this.llm.replaceChildren(...llms.map((m) => h("option", {
      value: `${m.backend}|${m.name}`, selected: m.default, disabled: !m.available,
    }, `${m.name} (${m.backend})${m.available ? "" : ` — ${m.reason}`}`)));
  }

  async load() {
    const { model, number } = this.target;
    const { analyses } = await api("GET", `/api/apps/${seg(model)}/${number}/analyses`);
    for (const a of analyses) this.analyses.set(a.analysis_id, a);
    if (!this.selected && analyses.length) this.selected = analyses[0].analysis_id;
    this.renderHistory();
    if (this.selected) await this.loadResult(this.selected);
    else this.renderDetail();
    await this.loadSummary();
  }

  async loadResult(id) {
    const result = await api("GET", `/api/analyses/${seg(id)}/result`);
    this.analyses.set(id, result.status);
    this.results.set(id, new Map(result.results.map((r) => [r.requirement.id, r])));
    this.renderDetail();
  }

  async loadSummary() {
    const { models } = await api("GET", "/api/analysis-summary");
    this.summary.replaceChildren(...models.map((m) => h("tr", {},
      h("td", {}, m.model), h("td", {}, m.llm_id), h("td", {}, String(m.apps)),
      h("td", {}, `${m.met} / ${m.total}`),
      h("td", {}, bar({ total: m.total, met: m.met, not_met: m.total - m.met - m.failed - m.unavailable,
        failed: m.failed, unavailable: m.unavailable })))));
  }

  onEvent(event) {
    const s = event.status;
    if (!this.target || s.model !== this.target.model || s.app !== this.target.number) return;
    this.analyses.set(s.analysis_id, s);
    if (event.result) {
      if (!this.results.has(s.analysis_id)) this.results.set(s.analysis_id, new Map());
      this.results.get(s.analysis_id).set(event.result.requirement.id, event.result);
    }
    if (!this.selected) this.selected = s.analysis_id;
    this.renderHistory();
    if (s.analysis_id === this.selected) this.renderDetail();
    if (s.state === "COMPLETE") this.loadSummary().catch(() => {});
  }

  renderHistory() {
    const list = [...this.analyses.values()].sort((a, b) => (b.started_at ?? 0) - (a.started_at ?? 0));
    this.history.replaceChildren(...list.map((a) => h("li", { class: a.analysis_id === this.selected ? "selected" : "" },
      h("a", { href: `${analysisHash(a.model, a.app)}/${seg(a.analysis_id)}` },
        `${a.state} · ${a.counts.met}/${a.counts.total} met · ${a.llm}`))));
  }

  renderDetail() {
    const s = this.analyses.get(this.selected);
    if (!s) {
      this.state.textContent = "No analysis of this app yet: start one.";
      this.table.replaceChildren();
      return;
    }
    this.state.textContent = s.state + (s.current ? ` · checking ${s.current}` : "");
    this.state.dataset.state = s.state;
    this.progress.value = s.progress;
    const c = s.counts;
    this.counts.replaceChildren(`${c.met}/${c.total} met · ${c.not_met} not met · ${c.failed} failed · ${c.unavailable} unavailable `, bar(c));
    this.error.hidden = !s.error;
    this.error.textContent = s.error || "";
    this.stop.hidden = DONE.has(s.state) || document.body.dataset.role === "viewer";
    const results = this.results.get(s.analysis_id) || new Map();
    this.table.replaceChildren(...[...results.values()].map((r) => h("tr", { dataset: { requirement: r.requirement.id } },
      h("td", {}, h("code", {}, r.requirement.id), " ", r.requirement.text),
      h("td", {}, verdictCell(r), r.cached ? h("span", { class: "muted" }, " (cached)") : null),
      h("td", {}, r.confidence || "–"),
      h("td", {}, evidenceCell(r)))));
  }

  async start() {
    const [backend, llm] = (this.llm.value || "|").split("|");
    const body = { model: this.target.model, app: this.target.number, use_cache: this.cache.checked };
    if (backend) Object.assign(body, { backend, llm });
    try {
      const status = await api("POST", "/api/analyses", body);
      this.formResult.textContent = `analysis ${status.analysis_id} queued (${status.counts.total} requirements)`;
      this.analyses.set(status.analysis_id, status);
      this.selected = status.analysis_id;
      this.results.set(status.analysis_id, new Map());
      this.renderHistory();
      this.renderDetail();
    } catch (err) {
      this.formResult.textContent = err.status === 409 ? "an analysis of this app is already running" : describeError(err);
    }
  }

  async stopAnalysis() {
    try {
      await api("POST", `/api/analyses/${seg(this.selected)}/stop`);
    } catch (err) {
      this.formResult.textContent = describeError(err);
    }
  }
}
