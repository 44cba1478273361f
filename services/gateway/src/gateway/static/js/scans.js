// The scan view (#scan/<model>/<n>[/<scan id>]): an app's scan history, a form to start a
// scan, the selected scan live from `scan` events (never polled), and once it is over its
// findings (from the JSON report) with filters, and the report files to download.

import { api, apiFile, describeError, seg } from "./api.js";
import { $, formatDuration, h } from "./dom.js";
import { figuresText, triageCell } from "./triage.js";

const DONE = new Set(["COMPLETE", "FAILED", "ERROR", "STOPPED"]);
const PHASES = ["spider", "ajax", "passive", "active"];
const RISKS = ["high", "medium", "low", "info"];
const SEVERITIES = ["High", "Medium", "Low", "Info"];
const COULD_NOT_CHECK = new Set(["failed", "unavailable", "not_finished"]);
// a tool that ran on several targets: findings first, then what could not check (as scan-svc)
const RUN_RANK = ["findings", "failed", "unavailable", "no_findings"];
// every tool that reported a finding (reports before corroboration name one, `tool`)
const toolsOf = (f) => (f.tools?.length ? f.tools : [f.tool]);
// the COMPLETE event is published just before the report files are stored: retry a 404 a bit
const REPORT_RETRY_MS = 400;
const REPORT_WAIT_MS = 20_000;
const TOOL_LABELS = {
  queued: "queued",
  running: "running…",
  findings: "findings",
  no_findings: "no findings",
  failed: "could not check (failed)",
  unavailable: "could not check (unavailable)",
  not_finished: "could not check (did not finish)",
};

export const isDone = (state) => DONE.has(state);

/** A tool's state in a scan's status: how its run ended, else running, else waiting its turn. */
export const toolState = (status, tool) =>
  status.tool_status?.[tool] || ((status.tools_running || []).includes(tool) ? "running" : "queued");

/** A scan's state as shown: RUNNING says which phase (spidering, scanning). */
export const stateText = (status) => (status.state === "RUNNING" && status.phase ? `${status.state} · ${status.phase}` : status.state);

/** What a tool status says to a reader: failed / unavailable are "could not check". */
export const toolLabel = (status) => TOOL_LABELS[status] || status || "–";

const cweUrl = (n) => `https://cwe.mitre.org/data/definitions/${encodeURIComponent(n)}.html`;

function clock(epochS) {
  if (!Number.isFinite(epochS)) return "";
  const d = new Date(epochS * 1000);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

function byStartDesc(a, b) {
  return (b.started_at ?? Infinity) - (a.started_at ?? Infinity) || (a.scan_id < b.scan_id ? 1 : -1);
}

export class ScanView {
  /**
   * @param {object} opts
   * @param {import("./live.js").EventStream} opts.events the event socket (scan events, reconnects)
   * @param {(model: string, number: number) => {color: string, title: string, running: boolean|null}} opts.appInfo
   */
  constructor({ events, appInfo }) {
    this.section = $("#scanview");
    this.appInfo = appInfo;
    this.target = null; // {model, number}
    this.scans = new Map(); // scan_id -> ScanStatus (this app's)
    this.selected = "";
    this.fresh = new Set(); // one Set per history load: the scan ids events updated meanwhile
    this.tools = null; // {static: [...], dast: [...]}
    this.report = null; // {scanId, data: ScanReport | null, state: "loading"|"ready"|"missing"|"error"}
    this.reportGeneration = 0;
    this.rows = []; // [{tr, text, severity, tool, target}] of the findings table
    this.startedHere = ""; // the scan this page started last
    this.blind = []; // the selected scan's tools that could not check
    events.on("scan", (event) => this.onScan(event.status));
    events.on("open", () => {
      if (this.target) this.loadHistory().catch(() => {});
    });

    $("#scan-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.startScan();
    });
    $("#scan-stop").addEventListener("click", () => this.stopScan());
    for (const button of this.section.querySelectorAll(".downloads button")) {
      button.addEventListener("click", () => this.download(button.dataset.format, button));
    }
    const filters = $("#finding-filters");
    filters.addEventListener("submit", (e) => e.preventDefault());
    filters.addEventListener("input", () => this.applyFilters());
    filters.addEventListener("change", () => this.applyFilters());
  }

  get isOpen() {
    return this.target !== null;
  }

  /** Show the scans of `model`/app`number`, with `scanId` selected (default: the newest). */
  open(model, number, scanId = "") {
    if (this.target && this.target.model === model && this.target.number === number) {
      if (scanId && scanId !== this.selected) this.select(scanId);
      return;
    }
    this.target = { model, number };
    this.scans = new Map();
    this.selected = scanId;
    this.report = null;
    const info = this.appInfo(model, number);
    this.section.dataset.app = `${model}/app${number}`;
    this.section.style.setProperty("--model-color", info.color);
    $("#scan-title").textContent = `Scans: ${info.title} · app${number}`;
    $("#scan-form-result").textContent = "";
    $("#scan-history").replaceChildren();
    $("#scan-empty").textContent = "Loading the scans…";
    this.section.hidden = false;
    this.renderDetail();
    this.renderForm();
    this.loadTools();
    this.loadHistory().catch(() => {});
    window.scrollTo({ top: 0 });
  }

  close() {
    this.target = null;
    this.section.hidden = true;
    delete this.section.dataset.app;
    this.scans = new Map();
    this.selected = "";
    this.report = null;
    this.reportGeneration += 1;
  }

  // --- data --------------------------------------------------------------------------------
  async loadTools() {
    if (this.tools) return;
    try {
      this.tools = await api("GET", "/api/scan-tools");
    } catch (err) {
      if (err.status !== 401) this.formResult("error", `Could not load the tools: ${describeError(err)}`);
      return;
    }
    this.renderForm();
    if (this.selected) this.renderDetail();
  }

  async loadHistory() {
    const target = this.target;
    if (!target) return;
    const fresh = new Set();
    this.fresh.add(fresh);
    let reply;
    try {
      reply = await api("GET", `/api/apps/${seg(target.model)}/${seg(target.number)}/scans`);
    } catch (err) {
      this.fresh.delete(fresh);
      if (err.status !== 401 && this.target === target) {
        this.formResult("error", `Could not load the scans: ${describeError(err)}`);
      }
      throw err;
    }
    this.fresh.delete(fresh);
    if (this.target !== target) return;
    // a scan event that arrived while the history loaded is newer than the history's copy
    for (const status of reply.scans || []) {
      if (!fresh.has(status.scan_id)) this.scans.set(status.scan_id, status);
    }
    $("#scan-empty").textContent = "No scan of this app yet: start one.";
    if (!this.selected || !this.scans.has(this.selected)) {
      const newest = this.sortedScans()[0];
      this.selected = newest ? newest.scan_id : "";
    }
    this.renderHistory();
    this.renderDetail();
  }

  onScan(status) {
    const target = this.target;
    if (!status || !target || status.model !== target.model || status.app !== target.number) return;
    for (const fresh of this.fresh) fresh.add(status.scan_id);
    const known = this.scans.has(status.scan_id);
    this.scans.set(status.scan_id, status);
    this.renderHistory();
    if (!this.selected || (!known && this.startedHere === status.scan_id)) this.select(status.scan_id);
    else if (this.selected === status.scan_id) this.renderDetail();
  }

  sortedScans() {
    return [...this.scans.values()].sort(byStartDesc);
  }

  select(scanId) {
    this.selected = scanId;
    if (this.target) {
      const hash = `#scan/${seg(this.target.model)}/${this.target.number}/${seg(scanId)}`;
      if (location.hash !== hash) history.replaceState(null, "", hash);
    }
    this.renderHistory();
    this.renderDetail();
  }

  // --- start and stop ----------------------------------------------------------------------
  renderForm() {
    const boxes = (names, kind) =>
      names.map((name) =>
        h(
          "label",
          { class: "tool-box" },
          h("input", {
            type: "checkbox",
            name: "tool",
            value: name,
            checked: kind === "static",
            dataset: { tool: name, kind },
          }),
          name,
        ),
      );
    const tools = this.tools || { static: [], dast: [] };
    $("#scan-tools-static").replaceChildren(...(tools.static.length ? boxes(tools.static, "static") : [h("span", { class: "muted" }, this.tools ? "none installed" : "loading…")]));
    $("#scan-tools-dast").replaceChildren(...(tools.dast.length ? boxes(tools.dast, "dast") : [h("span", { class: "muted" }, this.tools ? "none installed" : "loading…")]));
    const hint = $("#scan-dast-hint");
    const running = this.target ? this.appInfo(this.target.model, this.target.number).running : null;
    hint.textContent = "The app is not running: start it first, or DAST tools cannot check it.";
    hint.hidden = !tools.dast.length || running !== false;
  }

  formResult(kind, text) {
    const el = $("#scan-form-result");
    el.dataset.kind = kind;
    el.textContent = text;
  }

  async startScan() {
    const target = this.target;
    if (!target) return;
    const tools = [...this.section.querySelectorAll('#scan-form input[name="tool"]:checked')].map((i) => i.value);
    if (!tools.length) {
      this.formResult("error", "Choose at least one tool.");
      return;
    }
    const button = $("#scan-start");
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    this.formResult("busy", "starting…");
    try {
      const status = await api("POST", "/api/scans", { model: target.model, app: target.number, tools });
      if (this.target !== target) return;
      this.startedHere = status.scan_id;
      if (!this.scans.has(status.scan_id)) this.scans.set(status.scan_id, status);
      this.formResult("ok", `Scan ${status.scan_id} started.`);
      this.select(status.scan_id);
    } catch (err) {
      if (err.status === 401) return;
      const text = err.status === 409 ? "a scan of this app is already running" : describeError(err);
      this.formResult(err.status === 409 ? "busy-refused" : "error", `Scan: ${text}`);
      if (err.status === 409) {
        const running = this.sortedScans().find((s) => !isDone(s.state));
        if (running) this.select(running.scan_id);
      }
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }

  async stopScan() {
    const scanId = this.selected;
    if (!scanId) return;
    const button = $("#scan-stop");
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      const status = await api("POST", `/api/scans/${seg(scanId)}/stop`);
      // the STOPPED event says the same; take the answer in case it came first
      if (this.target && status.model === this.target.model && status.app === this.target.number) {
        const current = this.scans.get(scanId);
        if (!current || !isDone(current.state)) this.scans.set(scanId, status);
        this.renderHistory();
        if (this.selected === scanId) this.renderDetail();
      }
    } catch (err) {
      if (err.status === 401) return;
      const el = $("#scan-error");
      el.textContent = `Stop: ${describeError(err)}`;
      el.hidden = false;
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }

  // --- history -----------------------------------------------------------------------------
  renderHistory() {
    const list = $("#scan-history");
    const scans = this.sortedScans();
    $("#scan-empty").hidden = scans.length > 0;
    const focused = document.activeElement?.closest?.("#scan-history .scan-item")?.dataset.scanId;
    list.replaceChildren(
      ...scans.map((s) => {
        const c = s.counts || {};
        const found = RISKS.filter((r) => c[r]).map((r) => h("span", { class: `mini risk-${r}`, title: r }, String(c[r])));
        return h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              class: "scan-item",
              dataset: { testid: "scan-item", scanId: s.scan_id, state: s.state },
              "aria-current": s.scan_id === this.selected ? "true" : null,
              onclick: () => this.select(s.scan_id),
            },
            h("span", { class: "scan-state small", dataset: { state: s.state } }, s.state),
            h("span", { class: "when" }, clock(s.started_at) || "–"),
            isDone(s.state) ? h("span", { class: "found" }, found.length ? found : h("span", { class: "muted" }, "0")) : h("span", { class: "found muted" }, `${s.progress ?? 0} %`),
            h("span", { class: "which muted" }, (s.tools || []).join(", ")),
          ),
        );
      }),
    );
    // the list is rebuilt on every event: keep the keyboard focus where it was
    if (focused) list.querySelector(`.scan-item[data-scan-id="${CSS.escape(focused)}"]`)?.focus();
  }

  // --- the selected scan ---------------------------------------------------------------------
  renderDetail() {
    const status = this.scans.get(this.selected);
    const detail = $("#scan-detail");
    $("#scan-empty").hidden = this.scans.size > 0;
    if (!status) {
      detail.hidden = true;
      $("#scan-report").hidden = true;
      return;
    }
    detail.hidden = false;
    detail.dataset.scanId = status.scan_id;
    const done = isDone(status.state);

    const stateEl = $("#scan-state");
    stateEl.dataset.state = status.state;
    stateEl.textContent = stateText(status);
    $("#scan-id").textContent = status.scan_id;
    const times = [];
    if (status.started_at) times.push(`started ${clock(status.started_at)}`);
    if (status.ended_at) {
      times.push(`ended ${clock(status.ended_at)}`);
      if (status.started_at) times.push(formatDuration(status.ended_at - status.started_at));
    }
    if (status.attempt > 1) times.push(`attempt ${status.attempt}`);
    $("#scan-times").textContent = times.join(" · ");
    $("#scan-stop").hidden = done;
    const error = $("#scan-error");
    error.textContent = status.error || "";
    error.hidden = !status.error;
    error.dataset.kind = ["FAILED", "ERROR"].includes(status.state) ? "error" : "note";

    const progress = Math.max(0, Math.min(100, status.progress ?? 0));
    const bar = $("#scan-progress");
    bar.value = progress;
    bar.setAttribute("aria-valuetext", `${progress} %`);
    $("#scan-progress-text").textContent = `${progress} %`;

    this.renderPhases(status);
    this.renderRisks(status);
    this.renderTools(status);

    if (done) this.ensureReport(status);
    else {
      $("#scan-report").hidden = true;
      if (this.report?.scanId === status.scan_id) this.report = null;
    }
  }

  renderPhases(status) {
    const dastTools = this.tools ? (status.tools || []).filter((t) => this.tools.dast.includes(t)) : null;
    const idle = dastTools !== null && dastTools.length === 0;
    const box = $("#scan-phases");
    box.classList.toggle("idle", idle);
    box.replaceChildren(
      h("span", { class: "phases-title" }, "DAST phases", idle ? h("span", { class: "muted" }, " (no DAST tool in this scan)") : null),
      ...PHASES.map((phase) => {
        const value = Math.max(0, Math.min(100, status.phases?.[phase] ?? 0));
        return h(
          "div",
          { class: "progress-row phase" },
          h("span", { class: "phase-name" }, phase),
          h("progress", { max: 100, value, dataset: { testid: `phase-${phase}` }, "aria-label": `DAST phase ${phase}`, "aria-valuetext": `${value} %` }),
          h("span", { class: "pct" }, `${value} %`),
        );
      }),
    );
  }

  renderRisks(status) {
    const counts = status.counts || {};
    $("#scan-risks").replaceChildren(
      ...RISKS.map((risk) =>
        h(
          "li",
          { class: `risk risk-${risk}`, dataset: { testid: `risk-${risk}`, count: String(counts[risk] ?? 0) } },
          h("span", { class: "n" }, String(counts[risk] ?? 0)),
          h("span", { class: "label" }, risk),
        ),
      ),
    );
  }

  renderTools(status) {
    this.blind = [];
    const runs = this.report?.scanId === status.scan_id ? this.report.data?.runs || [] : [];
    const names = [...new Set([...(status.tools || []), ...Object.keys(status.tool_status || {})])];
    $("#scan-tool-status").replaceChildren(
      ...names.map((tool) => {
        const own = runs.filter((r) => r.tool === tool);
        // once the report is in, its runs are the truth (the live status keeps the last target's)
        const ranked = own.map((r) => r.status).filter((v) => RUN_RANK.includes(v));
        const live = toolState(status, tool);
        let value = ranked.length ? ranked.sort((a, b) => RUN_RANK.indexOf(a) - RUN_RANK.indexOf(b))[0] : live;
        // a scan that is over (stopped, failed) left its queued and running tools unfinished
        if (isDone(status.state) && (live === "queued" || live === "running")) value = "not_finished";
        const blind = COULD_NOT_CHECK.has(value) || own.some((r) => COULD_NOT_CHECK.has(r.status));
        const details = own.map((r) => {
          const bits = [r.target || "", toolLabel(r.status)];
          if (r.version) bits.push(`v${r.version}`);
          if (Number.isFinite(r.duration_s) && r.duration_s > 0) bits.push(formatDuration(r.duration_s));
          const line = h("div", { class: "run", dataset: { status: r.status } }, bits.filter(Boolean).join(" · "));
          if (r.error && COULD_NOT_CHECK.has(r.status)) {
            line.append(h("div", { class: "tool-error" }, r.error.trim().split("\n").slice(-3).join("\n")));
          }
          return line;
        });
        if (blind) this.blind.push(tool);
        return h(
          "li",
          { dataset: { tool, status: value, couldNotCheck: blind ? "true" : null } },
          h("span", { class: "tool-name" }, tool),
          h("span", { class: "tool-chip", dataset: { status: value } }, toolLabel(value)),
          details.length ? h("div", { class: "runs" }, details) : null,
        );
      }),
    );
    // "could not check" is never "clean": say so next to the counts
    const note = $("#scan-blind");
    note.textContent = !this.blind.length
      ? ""
      : this.blind.length === names.length
        ? `Nothing was checked: ${this.blind.join(", ")} could not check this app.`
        : `Could not check with ${this.blind.join(", ")}: the counts cover only what the other tools checked.`;
    note.hidden = !this.blind.length;
  }

  // --- the report --------------------------------------------------------------------------
  async ensureReport(status) {
    if (this.report?.scanId === status.scan_id) return;
    const generation = ++this.reportGeneration;
    this.report = { scanId: status.scan_id, data: null, state: "loading" };
    const section = $("#scan-report");
    section.hidden = false;
    section.dataset.state = "loading";
    this.setReportState("loading the report…");
    this.rows = [];
    $("#findings tbody").replaceChildren();
    $("#findings").hidden = true;
    $("#findings-empty").hidden = true;
    $("#finding-count").textContent = "";
    $("#finding-figures").textContent = "";
    const deadline = Date.now() + REPORT_WAIT_MS;
    for (;;) {
      try {
        // read anew each time: the report comes with the triage marks of the moment
        const { blob } = await apiFile(`/api/scans/${seg(status.scan_id)}/report?format=json`);
        const data = JSON.parse(await blob.text());
        if (generation !== this.reportGeneration) return;
        this.report = { scanId: status.scan_id, data, state: "ready" };
        section.dataset.state = "ready";
        this.renderReport(data);
        const current = this.scans.get(status.scan_id);
        if (current) this.renderTools(current);
        return;
      } catch (err) {
        if (generation !== this.reportGeneration) return;
        if (err.status === 404 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, REPORT_RETRY_MS));
          if (generation !== this.reportGeneration) return;
          continue;
        }
        this.report = { scanId: status.scan_id, data: null, state: err.status === 404 ? "missing" : "error" };
        section.dataset.state = this.report.state;
        this.setReportState(
          err.status === 404
            ? "No report for this scan: it ended before its tools could report."
            : `Could not load the report: ${describeError(err)}`,
          "error",
        );
        return;
      }
    }
  }

  /** Read the shown report again (a mark was set or removed, a suggestion came). */
  reloadReport() {
    const status = this.report && this.scans.get(this.report.scanId);
    this.report = null;
    if (status) this.ensureReport(status).catch(() => {});
  }

  setReportState(text, kind = "") {
    const el = $("#report-state");
    el.textContent = text;
    el.dataset.kind = kind;
  }

  renderReport(report) {
    const findings = [...(report.findings || [])].sort(
      (a, b) =>
        SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) ||
        a.tool.localeCompare(b.tool) ||
        (a.location?.file || a.location?.url || "").localeCompare(b.location?.file || b.location?.url || "") ||
        (a.location?.line ?? 0) - (b.location?.line ?? 0),
    );
    const runs = report.runs || [];
    const state = report.status?.state;
    const notes = [];
    if (state === "STOPPED") notes.push("The scan was stopped: these are the findings of the tools that finished.");
    else if (state && state !== "COMPLETE") notes.push(`The scan ended ${state}: the findings may be incomplete.`);
    this.setReportState(notes.join(" "), notes.length ? "warn" : "");
    $("#finding-figures").textContent = figuresText(report);

    // the tool filter: the tools that found something (each tool of a corroborated finding)
    const toolFilter = $("#filter-tool");
    const chosen = toolFilter.value;
    const tools = [...new Set(findings.flatMap(toolsOf))].sort();
    toolFilter.replaceChildren(h("option", { value: "" }, "any"), ...tools.map((t) => h("option", { value: t }, t)));
    toolFilter.value = tools.includes(chosen) ? chosen : "";

    const empty = $("#findings-empty");
    const table = $("#findings");
    if (!findings.length) {
      const blind = runs.filter((r) => COULD_NOT_CHECK.has(r.status));
      empty.dataset.kind = blind.length || !runs.length ? "warn" : "ok";
      empty.textContent = !runs.length
        ? "No findings, but no tool finished: nothing was checked."
        : blind.length
          ? `No findings, but ${blind.length} tool run(s) could not check (${[...new Set(blind.map((r) => r.tool))].join(", ")}): this is not a clean result.`
          : "No findings: every tool ran and found nothing.";
      empty.hidden = false;
      table.hidden = true;
      this.rows = [];
      $("#findings tbody").replaceChildren();
      $("#finding-count").textContent = "";
      return;
    }
    empty.hidden = true;
    table.hidden = false;
    this.rows = findings.map((f) => this.findingRow(f));
    $("#findings tbody").replaceChildren(...this.rows.map((r) => r.tr));
    this.applyFilters();
  }

  findingRow(f) {
    const loc = f.location || {};
    const where = [];
    if (loc.file) {
      where.push(h("code", { class: "file", title: "in the app's folder" }, loc.line ? `${loc.file}:${loc.line}` : loc.file));
      if (loc.snippet) where.push(h("pre", { class: "snippet" }, loc.snippet.replace(/\s+$/, "")));
    }
    if (loc.url) {
      where.push(h("div", { class: "url" }, loc.method ? h("span", { class: "method" }, loc.method) : null, h("code", {}, loc.url)));
      if (loc.parameter) where.push(h("div", { class: "param" }, "parameter ", h("code", {}, loc.parameter)));
      if (loc.evidence) where.push(h("pre", { class: "snippet evidence", title: "evidence" }, loc.evidence));
    }
    const sources = (f.sources || []).slice(0, 3);
    if (sources.length) {
      // a DAST finding traced to the app's code: the likeliest lines, each with why
      where.push(
        h(
          "details",
          { class: "sources", open: !loc.file },
          h("summary", {}, "likely source"),
          h(
            "ul",
            {},
            ...sources.map((s) =>
              h("li", {}, h("code", { class: "file" }, `${s.file}:${s.line}`), " ", h("span", { class: "muted" }, s.why)),
            ),
          ),
        ),
      );
    }
    const cwe = Number.isInteger(f.cwe) && f.cwe > 0
      ? h("a", { href: cweUrl(f.cwe), target: "_blank", rel: "noopener noreferrer", dataset: { cwe: String(f.cwe) } }, `CWE-${f.cwe}`)
      : h("span", { class: "muted" }, "–");
    const title = [h("div", { class: "title" }, f.title)];
    if (f.target) title.push(h("span", { class: "target-tag", dataset: { target: f.target } }, f.target));
    if (f.description && f.description !== f.title) {
      title.push(h("details", { class: "desc" }, h("summary", {}, "details"), h("p", {}, f.description)));
    }
    const tools = toolsOf(f);
    // corroboration: every tool that reported it, the one whose rule is shown first
    const toolCell = [h("div", {}, f.tool), h("code", {}, f.rule_id)];
    if (tools.length > 1) {
      toolCell.push(
        h(
          "div",
          { class: "corroboration", title: "reported by each of these tools", dataset: { testid: "corroboration" } },
          `${tools.length} tools agree: `,
          ...tools.map((t) => h("span", { class: "tool-chip" }, t)),
        ),
      );
    }
    const tr = h(
      "tr",
      {
        dataset: {
          severity: f.severity, tool: f.tool, tools: tools.join(","), target: f.target || "",
          fingerprint: f.fingerprint || "",
        },
      },
      h(
        "td",
        { class: "sev" },
        h("span", { class: "sev-chip", dataset: { severity: f.severity } }, f.severity),
        f.confidence ? h("div", { class: "conf muted", title: "confidence" }, f.confidence) : null,
      ),
      h("td", { class: "finding" }, title),
      h("td", { class: "rule" }, toolCell),
      h("td", { class: "cwe" }, cwe),
      h("td", { class: "loc" }, where.length ? where : h("span", { class: "muted" }, "–")),
      triageCell(f, {
        model: this.target.model,
        number: this.target.number,
        canMark: ["operator", "admin"].includes(document.body.dataset.role),
        changed: () => this.reloadReport(),
      }),
    );
    const text = [
      f.title, ...tools, f.rule_id, f.description, f.target, f.cwe ? `cwe-${f.cwe} cwe${f.cwe}` : "",
      loc.file, loc.line ? `${loc.file}:${loc.line}` : "", loc.snippet, loc.url, loc.method, loc.parameter, loc.evidence,
    ]
      .filter(Boolean)
      .join("\n")
      .toLowerCase();
    return { tr, text, severity: f.severity, tools, target: f.target || "" };
  }

  applyFilters() {
    const severity = $("#filter-severity").value;
    const tool = $("#filter-tool").value;
    const target = $("#filter-target").value;
    const words = $("#filter-text").value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const row of this.rows) {
      const visible =
        (!severity || row.severity === severity) &&
        (!tool || row.tools.includes(tool)) &&
        (!target || row.target === target) &&
        words.every((w) => row.text.includes(w));
      row.tr.hidden = !visible;
      if (visible) shown += 1;
    }
    $("#finding-count").textContent = this.rows.length
      ? shown === this.rows.length
        ? `${shown} finding${shown === 1 ? "" : "s"}`
        : `${shown} of ${this.rows.length} findings`
      : "";
  }

  // --- downloads ---------------------------------------------------------------------------
  /** The report endpoint needs the bearer token: fetch it, then save it from a Blob URL. */
  async download(format, button) {
    const scanId = this.report?.scanId || this.selected;
    if (!scanId) return;
    button.setAttribute("aria-busy", "true");
    button.disabled = true;
    try {
      const { blob, filename } = await apiFile(`/api/scans/${seg(scanId)}/report?format=${encodeURIComponent(format)}`);
      const url = URL.createObjectURL(blob);
      const link = h("a", { href: url, download: filename || `genfleet-scan-${scanId}.${format}`, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      if (err.status !== 401) this.setReportState(`Download (${format}): ${describeError(err)}`, "error");
    } finally {
      button.removeAttribute("aria-busy");
      button.disabled = false;
    }
  }
}
