// The campaigns page (#campaigns/[<id>[/compare]]): the campaigns, newest first; a form to
// start one; the selected campaign live from `campaign` events (a model x app grid of each
// app's steps, the totals and the ETA; never polled); pause, resume, stop, rerun its failed
// steps; its report (the HTML report in a sandboxed frame, the files, the JSON figures). The
// Compare view: each figure of the JSON report per model, with its 95% interval and n.

import { api, apiFile, describeError, seg } from "./api.js";
import { $, formatDuration, h } from "./dom.js";

const DONE = new Set(["COMPLETE", "UNAVAILABLE", "FAILED", "ERROR", "STOPPED"]);
// campaign-svc's steps, in the order it runs them (messages/campaigns.py: Step)
const STEPS = ["deploy", "scan", "analysis", "perf", "dast"];
const DEFAULT_STEPS = new Set(["deploy", "scan", "perf", "dast"]);
const STEP_STATES = ["pending", "running", "done", "failed", "skipped"];
const FORMATS = [["html", "HTML"], ["json", "JSON"], ["csv", "CSV"], ["latex", "LaTeX"]];
const EXTENSIONS = { latex: "tex" };
const SVG = "http://www.w3.org/2000/svg";
const MAX_APP = 99_999;
const LIST_RELOAD_MS = 300; // a campaign started elsewhere: the list is read again, once

export const campaignsHash = (id = "", view = "") =>
  `#campaigns/${id ? seg(id) : ""}${id && view ? `/${view}` : ""}`;

/** "1-10,12" -> [1, ..., 10, 12]: app numbers and ranges, as `genfleet campaign start --apps`
 * reads them; null when empty (every app). Throws an Error that says what is wrong. */
export function parseApps(text) {
  if (!text.trim()) return null;
  const numbers = new Set();
  for (const raw of text.split(",")) {
    const part = raw.trim();
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!match) throw new Error(part ? `apps: "${part}" is neither an app number nor a range like 1-10` : `apps: an empty item in "${text}"`);
    const first = Number(match[1]);
    const last = Number(match[2] ?? match[1]);
    if (first < 1) throw new Error(`apps: "${part}": app numbers start at 1`);
    if (last < first) throw new Error(`apps: the range "${part}" is empty (write it low-high)`);
    if (last > MAX_APP) throw new Error(`apps: "${part}": app numbers go up to ${MAX_APP}`);
    for (let n = first; n <= last; n += 1) numbers.add(n);
  }
  return [...numbers].sort((a, b) => a - b);
}

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

const ended = (c) => c.done + c.failed + c.skipped;
const splitKey = (key) => {
  const at = key.lastIndexOf("/app");
  return [key.slice(0, at), Number(key.slice(at + 4))];
};

function totalsText(status) {
  const c = status.counts;
  const reused = c.reused ? ` (${c.reused} reused)` : "";
  return `${ended(c)}/${status.total} steps ended · ${c.done} done${reused} · ${c.failed} failed · ${c.skipped} skipped · ${c.running} running`;
}

function stateText(status) {
  return `${status.state}${status.paused && !DONE.has(status.state) ? " · paused" : ""}`;
}

export class CampaignView {
  /**
   * @param {object} opts
   * @param {import("./live.js").EventStream} opts.events the event socket
   * @param {() => Array<{name: string, display_name: string, color: string}>} opts.models the fleet's models
   * @param {(color: string) => string} opts.safeColor a colour CSS accepts, or a grey
   */
  constructor({ events, models, safeColor }) {
    this.section = $("#campaignview");
    this.models = models;
    this.safeColor = safeColor;
    this.isOpen = false;
    this.campaigns = new Map(); // campaign_id -> CampaignStatus (list: manifests without apps)
    this.selected = "";
    this.compare = false;
    this.current = null; // {status, cells: Map("Model/appN" -> Map(step -> record))}
    this.loading = null; // events that arrive while the selected campaign loads
    this.reports = new Map(); // campaign_id -> {json, html} once read
    this.tools = null; // ToolList from /api/scan-tools
    this.generation = 0;
    this.listTimer = null;
    this.listFrame = 0;
    this.etaAt = 0; // when current.status.eta_s was current (performance.now())
    events.on("campaign", (event) => this.onEvent(event));
    events.on("open", () => {
      if (this.isOpen) this.reload();
    });
    this.build();
    setInterval(() => {
      if (this.isOpen && this.current) this.renderTotals();
    }, 1000);
  }

  // --- the page ----------------------------------------------------------------------------
  build() {
    this.form = h("form", { dataset: { testid: "campaign-form" }, "aria-labelledby": "campaign-form-title", onsubmit: (e) => { e.preventDefault(); this.start(); } });
    this.modelBoxes = h("div", { class: "tool-boxes", dataset: { testid: "campaign-models" } });
    this.appsInput = h("input", { id: "campaign-apps", type: "text", placeholder: "all, or e.g. 1-10,12", autocomplete: "off", dataset: { testid: "campaign-apps" } });
    this.stepBoxes = h("div", { class: "tool-boxes", dataset: { testid: "campaign-steps" } },
      STEPS.map((step) => h("label", { class: "tool-box" },
        h("input", { type: "checkbox", value: step, checked: DEFAULT_STEPS.has(step), dataset: { step } }), step)));
    // the analyzers of the scan and dast steps (all ticked: every one scan-svc offers)
    this.toolBoxes = {
      scan: h("div", { class: "tool-boxes", dataset: { testid: "campaign-tools-scan" } }, h("span", { class: "muted" }, "loading…")),
      dast: h("div", { class: "tool-boxes", dataset: { testid: "campaign-tools-dast" } }, h("span", { class: "muted" }, "loading…")),
    };
    this.parallelInput = h("input", { id: "campaign-parallel", type: "number", min: 1, max: 256, placeholder: "auto", dataset: { testid: "campaign-parallel" } });
    this.keepInput = h("input", { id: "campaign-keep", type: "checkbox", dataset: { testid: "campaign-keep-running" } });
    this.reuseInput = h("input", { id: "campaign-reuse", type: "checkbox", checked: true, dataset: { testid: "campaign-reuse" } });
    this.nameInput = h("input", { id: "campaign-name", type: "text", maxlength: 200, autocomplete: "off", dataset: { testid: "campaign-name" } });
    this.formResult = h("p", { class: "result", role: "status", "aria-live": "polite", dataset: { testid: "campaign-form-result" } });
    this.form.append(
      h("h3", { id: "campaign-form-title" }, "Start a campaign"),
      h("fieldset", {}, h("legend", {}, "Models ", h("span", { class: "muted" }, "(none ticked: every one)")), this.modelBoxes),
      h("label", { for: "campaign-apps" }, "Apps ", h("span", { class: "muted" }, "(numbers and ranges)")), this.appsInput,
      h("fieldset", {}, h("legend", {}, "Steps"), this.stepBoxes),
      h("fieldset", {}, h("legend", {}, "scan: static tools"), this.toolBoxes.scan),
      h("fieldset", {}, h("legend", {}, "dast: DAST tools"), this.toolBoxes.dast),
      h("div", { class: "grid" },
        h("label", { for: "campaign-parallel" }, "Apps at once", this.parallelInput),
        h("label", { for: "campaign-name" }, "Name", this.nameInput)),
      h("label", { class: "tool-box" }, this.keepInput, " keep the apps running afterwards"),
      h("label", { class: "tool-box" }, this.reuseInput, " reuse earlier results where nothing changed"),
      h("button", { type: "submit", class: "small", dataset: { testid: "campaign-start" } }, "Start campaign"),
      this.formResult,
    );
    this.list = h("ol", { class: "campaign-list", dataset: { testid: "campaign-list" }, "aria-labelledby": "campaign-list-title" });

    this.state = h("span", { class: "scan-state", role: "status", "aria-live": "polite", dataset: { testid: "campaign-state" } });
    this.title = h("strong", { dataset: { testid: "campaign-title" } });
    this.idCode = h("code", { class: "muted" });
    const button = (verb, label, cls) => h("button", { type: "button", class: `small ${cls}`, hidden: true, dataset: { testid: `campaign-${verb}`, verb }, onclick: (e) => this.control(verb, e.currentTarget) }, label);
    this.buttons = {
      pause: button("pause", "Pause", "outline"),
      resume: button("resume", "Resume", ""),
      stop: button("stop", "Stop", "secondary"),
      rerun: button("rerun", "Rerun failed steps", "outline"),
    };
    this.compareLink = h("a", { class: "scans-link", dataset: { testid: "campaign-compare-link" } }, "Compare the models");
    this.message = h("p", { class: "scan-error", role: "alert", hidden: true, dataset: { testid: "campaign-message" } });
    this.error = h("p", { class: "scan-error", hidden: true, dataset: { testid: "campaign-error" } });
    this.progress = h("progress", { max: 1, value: 0, dataset: { testid: "campaign-progress" }, "aria-label": "Steps ended" });
    this.totals = h("span", { dataset: { testid: "campaign-totals" } });
    this.eta = h("span", { class: "muted", dataset: { testid: "campaign-eta" } });
    this.grid = h("table", { class: "campaign-grid", dataset: { testid: "campaign-grid" } });
    this.legend = h("p", { class: "muted campaign-legend" });
    this.reportState = h("span", { class: "muted", role: "status", dataset: { testid: "campaign-report-state" } });
    this.reportButton = h("button", { type: "button", class: "small outline", dataset: { testid: "campaign-report-load" }, onclick: () => this.loadReport(this.selected, true) }, "Build the report");
    this.figures = h("div", { class: "table-wrap", dataset: { testid: "campaign-figures" } });
    this.frame = h("iframe", {
      class: "campaign-frame", title: "The campaign's HTML report", hidden: true,
      sandbox: "", referrerpolicy: "no-referrer", dataset: { testid: "campaign-report-frame" },
    }); // prettier-ignore
    this.detail = h("section", { dataset: { testid: "campaign-detail" }, hidden: true, "aria-label": "Selected campaign" },
      h("header", { class: "detail-head" }, this.state, this.title, this.idCode,
        h("span", { class: "campaign-buttons" }, Object.values(this.buttons))),
      this.message,
      this.error,
      h("div", { class: "campaign-progress" }, this.progress, this.totals, this.eta),
      h("div", { class: "table-wrap" }, this.grid),
      this.legend,
      h("section", { class: "campaign-report", dataset: { testid: "campaign-report" }, "aria-labelledby": "campaign-report-title" },
        h("header", { class: "report-head" },
          h("h3", { id: "campaign-report-title" }, "Report"), this.reportState, this.reportButton, this.compareLink,
          h("span", { class: "downloads" }, h("span", { class: "muted" }, "Download:"),
            FORMATS.map(([format, label]) => h("button", { type: "button", class: "small outline", dataset: { testid: `campaign-download-${format}` },
              onclick: (e) => this.download(format, e.currentTarget) }, label)))),
        this.figures, this.frame));
    this.empty = h("p", { class: "muted", dataset: { testid: "campaign-empty" } }, "Select a campaign, or start one.");
    this.compareTitle = h("h3", {});
    this.compareState = h("p", { class: "muted", role: "status", dataset: { testid: "campaign-compare-state" } });
    this.compareBody = h("div", { class: "compare-figures" });
    this.compareView = h("section", { dataset: { testid: "campaign-compare" }, hidden: true, "aria-label": "The models compared" },
      h("header", { class: "detail-head" }, h("a", { class: "back", dataset: { testid: "campaign-compare-back" } }, "← Campaign"), this.compareTitle),
      this.compareState, this.compareBody);
    this.section.append(
      h("header", { class: "scan-head" }, h("a", { href: "#", class: "back" }, "← Fleet"), h("h2", {}, "Campaigns")),
      h("div", { class: "scan-layout" },
        h("aside", { class: "scan-side" }, this.form, h("h3", { id: "campaign-list-title" }, "Campaigns"), this.list),
        h("div", { class: "scan-main" }, this.empty, this.detail, this.compareView)),
    );
  }

  /** Show the page: the list, and campaign `id` (its grid, or with `compare` its models
   * compared). */
  open(id = "", compare = false) {
    const fresh = !this.isOpen;
    this.isOpen = true;
    this.section.hidden = false;
    if (fresh) {
      this.renderModels();
      this.loadTools().catch(() => {});
    }
    const changed = id !== this.selected;
    this.selected = id;
    this.compare = Boolean(id) && compare;
    if (fresh || changed) {
      this.current = null;
      this.message.hidden = true; // what was said was about another campaign
      this.reportState.textContent = "";
      this.compareState.textContent = "";
      this.reload();
    } else {
      this.renderSelected();
    }
  }

  close() {
    this.isOpen = false;
    this.section.hidden = true;
  }

  reload() {
    this.loadList().catch((err) => this.say(describeError(err)));
    if (this.selected) this.loadSelected().catch((err) => this.say(describeError(err)));
    this.renderSelected();
  }

  say(text, kind = "error") {
    if (!this.selected) {
      this.formResult.textContent = text;
      return;
    }
    this.message.textContent = text;
    this.message.dataset.kind = kind;
    this.message.hidden = !text;
  }

  // --- the list ----------------------------------------------------------------------------
  async loadList() {
    const { campaigns } = await api("GET", "/api/campaigns");
    this.campaigns = new Map(campaigns.map((c) => [c.campaign_id, c]));
    this.renderList();
  }

  /** At most once a frame: a campaign of many apps sends many events. */
  renderListSoon() {
    if (this.listFrame) return;
    this.listFrame = requestAnimationFrame(() => {
      this.listFrame = 0;
      this.renderList();
    });
  }

  renderList() {
    const items = [...this.campaigns.values()].sort((a, b) => b.created_at - a.created_at);
    this.list.replaceChildren(...items.map((c) => {
      const state = h("span", { class: "scan-state small", dataset: { state: c.state } }, stateText(c));
      return h("li", { dataset: { campaign: c.campaign_id } },
        h("a", { href: campaignsHash(c.campaign_id), class: "scan-item", "aria-current": c.campaign_id === this.selected ? "true" : "false" },
          state,
          h("span", { class: "when muted" }, new Date(c.created_at * 1000).toLocaleString()),
          h("span", { class: "which" }, c.name || c.campaign_id),
          h("span", { class: "found muted" }, `${ended(c.counts)}/${c.total} steps · ${c.apps.length} apps${c.counts.failed ? ` · ${c.counts.failed} failed` : ""}`)));
    }));
    if (!items.length) this.list.append(h("li", { class: "muted" }, "No campaign yet."));
  }

  renderModels() {
    this.modelBoxes.replaceChildren(...this.models().map((m) =>
      h("label", { class: "tool-box", style: { "--model-color": this.safeColor(m.color) } },
        h("input", { type: "checkbox", value: m.name, dataset: { model: m.name } }),
        h("span", { class: "swatch", "aria-hidden": "true" }), m.display_name || m.name)));
  }

  async loadTools() {
    if (this.tools) return;
    let tools;
    try {
      tools = await api("GET", "/api/scan-tools");
    } catch (err) {
      for (const box of Object.values(this.toolBoxes)) box.replaceChildren(h("span", { class: "muted" }, `unknown: ${describeError(err)}`));
      throw err;
    }
    this.tools = tools;
    for (const [step, names] of [["scan", tools.static], ["dast", tools.dast]]) {
      this.toolBoxes[step].replaceChildren(...(names.length
        ? names.map((tool) => h("label", { class: "tool-box" }, h("input", { type: "checkbox", value: tool, checked: true, dataset: { tool } }), tool))
        : [h("span", { class: "muted" }, "none installed")]));
    }
  }

  /** The chosen analyzers of a step: null when every one offered is ticked (campaign-svc
   * then names them all in the manifest). */
  chosenTools(step) {
    const boxes = [...this.toolBoxes[step].querySelectorAll("input[type=checkbox]")];
    const ticked = boxes.filter((b) => b.checked).map((b) => b.value);
    return boxes.length && ticked.length === boxes.length ? null : ticked;
  }

  // --- start and control -------------------------------------------------------------------
  async start() {
    const body = {};
    try {
      body.apps = parseApps(this.appsInput.value);
    } catch (err) {
      this.formResult.textContent = err.message;
      return;
    }
    body.models = [...this.modelBoxes.querySelectorAll("input:checked")].map((i) => i.value);
    body.steps = [...this.stepBoxes.querySelectorAll("input:checked")].map((i) => i.value);
    if (!body.steps.length) {
      this.formResult.textContent = "tick at least one step";
      return;
    }
    for (const step of ["scan", "dast"]) {
      const tools = this.chosenTools(step);
      if (tools && !tools.length && body.steps.includes(step)) {
        this.formResult.textContent = `tick at least one tool for the ${step} step`;
        return;
      }
      if (tools) body[step] = { tools };
    }
    if (this.parallelInput.value) body.parallel = Number(this.parallelInput.value);
    body.keep_running = this.keepInput.checked;
    body.reuse = this.reuseInput.checked;
    body.name = this.nameInput.value.trim();
    this.formResult.textContent = "starting… (the manifest is being frozen)";
    try {
      const status = await api("POST", "/api/campaigns", body);
      this.campaigns.set(status.campaign_id, status);
      this.formResult.textContent = `campaign ${status.campaign_id} queued: ${status.apps.length} apps × ${status.steps.length} steps`;
      this.renderList();
      location.hash = campaignsHash(status.campaign_id);
    } catch (err) {
      if (err.status !== 401) this.formResult.textContent = describeError(err);
    }
  }

  async control(verb, button) {
    const id = this.selected;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      const status = await api("POST", `/api/campaigns/${seg(id)}/${verb}`);
      this.say("");
      if (verb === "rerun") this.reports.delete(id);
      this.takeStatus(status);
      if (verb === "rerun") await this.loadSelected(); // its steps are pending again
    } catch (err) {
      if (err.status !== 401) this.say(`${verb}: ${describeError(err)}`);
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }

  // --- the selected campaign ----------------------------------------------------------------
  async loadSelected() {
    const id = this.selected;
    const generation = ++this.generation;
    this.loading = [];
    let status;
    let steps;
    try {
      [status, { steps }] = await Promise.all([
        api("GET", `/api/campaigns/${seg(id)}`),
        api("GET", `/api/campaigns/${seg(id)}/steps`),
      ]);
    } catch (err) {
      if (generation === this.generation) this.loading = null;
      if (err.status === 404) {
        this.current = null;
        this.renderSelected();
      }
      throw err;
    }
    if (generation !== this.generation) return;
    const cells = new Map(status.apps.map((key) => [key, new Map(status.steps.map((s) => [s, { state: "pending" }]))]));
    for (const r of steps) {
      const key = `${r.model}/app${r.app}`;
      if (!cells.has(key)) cells.set(key, new Map());
      cells.get(key).set(r.step, r);
    }
    this.current = { status, cells };
    this.etaAt = performance.now();
    const replay = this.loading;
    this.loading = null;
    for (const event of replay) this.apply(event);
    this.campaigns.set(id, status);
    this.renderList();
    this.renderSelected();
    if (DONE.has(status.state) || this.compare) this.loadReport(id).catch(() => {});
  }

  takeStatus(status) {
    this.campaigns.set(status.campaign_id, status);
    this.renderList();
    if (this.current && status.campaign_id === this.selected) {
      this.current.status = status;
      this.etaAt = performance.now();
      this.renderSelected();
    }
  }

  onEvent(event) {
    // before the list's entry changes: for the selected campaign it is the same object
    const wasDone = Boolean(this.current) && DONE.has(this.current.status.state);
    const known = this.campaigns.get(event.campaign_id);
    if (known) {
      Object.assign(known, { state: event.state, paused: event.paused, counts: event.counts, total: event.total, eta_s: event.eta_s });
      if (this.isOpen) this.renderListSoon();
    } else if (this.isOpen && !this.listTimer) {
      this.listTimer = setTimeout(() => {
        this.listTimer = null;
        this.loadList().catch(() => {});
      }, LIST_RELOAD_MS);
    }
    if (event.campaign_id !== this.selected) return;
    if (this.loading) {
      this.loading.push(event);
      return;
    }
    if (!this.current) return;
    this.apply(event);
    if (!this.isOpen) return;
    if (event.model != null) this.renderCell(`${event.model}/app${event.app}`);
    this.renderHead();
    this.renderTotals();
    if (!wasDone && DONE.has(event.state)) { // over: its report, from every result
      this.reports.delete(event.campaign_id);
      this.loadReport(event.campaign_id).catch(() => {});
    }
  }

  apply(event) {
    const { status, cells } = this.current;
    Object.assign(status, { state: event.state, paused: event.paused, counts: event.counts, total: event.total, eta_s: event.eta_s });
    if (event.model == null) {
      if (event.error) status.error = event.error;
    } else if (event.step) {
      const key = `${event.model}/app${event.app}`;
      if (!cells.has(key)) cells.set(key, new Map());
      const record = { ...(cells.get(key).get(event.step) || {}), state: event.step_state };
      if (event.error) record.error = event.error;
      cells.get(key).set(event.step, record);
    }
    this.etaAt = performance.now();
  }

  renderSelected() {
    const show = Boolean(this.selected && this.current);
    this.empty.hidden = Boolean(this.selected);
    this.detail.hidden = !show || this.compare;
    this.compareView.hidden = !show || !this.compare;
    if (this.selected && !this.current) {
      this.empty.hidden = false;
      this.empty.textContent = `Loading campaign ${this.selected}…`;
    } else {
      this.empty.textContent = "Select a campaign, or start one.";
    }
    if (!show) return;
    this.renderHead();
    this.renderTotals();
    this.renderGrid();
    if (this.compare) this.renderCompare();
    else this.renderReport();
  }

  renderHead() {
    const s = this.current.status;
    this.state.textContent = stateText(s);
    this.state.dataset.state = s.state;
    this.state.dataset.paused = String(Boolean(s.paused));
    this.title.textContent = s.name || "campaign";
    this.idCode.textContent = s.campaign_id;
    const over = DONE.has(s.state);
    const operator = document.body.dataset.role !== "viewer";
    const unfinished = s.counts.failed + s.counts.skipped + s.counts.pending > 0;
    this.buttons.pause.hidden = !operator || over || s.paused;
    this.buttons.resume.hidden = !operator || over || !s.paused;
    this.buttons.stop.hidden = !operator || over;
    this.buttons.rerun.hidden = !operator || !over || !unfinished;
    this.compareLink.href = campaignsHash(s.campaign_id, "compare");
    // the campaign's own note: why it failed, or that it was resumed after a crash
    this.error.textContent = s.error || "";
    this.error.dataset.kind = s.state === "FAILED" || s.state === "ERROR" ? "error" : "warn";
    this.error.hidden = !s.error;
  }

  renderTotals() {
    const s = this.current.status;
    this.progress.max = Math.max(1, s.total);
    this.progress.value = ended(s.counts);
    this.totals.textContent = totalsText(s);
    if (DONE.has(s.state)) {
      const took = s.started_at != null && s.ended_at != null ? `took ${formatDuration(s.ended_at - s.started_at)}` : "";
      this.eta.textContent = took;
    } else if (s.paused) {
      this.eta.textContent = "paused: no new step starts";
    } else {
      const left = s.eta_s == null ? null : Math.max(0, s.eta_s - (performance.now() - this.etaAt) / 1000);
      this.eta.textContent = left == null ? "ETA –" : `ETA ${formatDuration(left)}`;
    }
  }

  renderGrid() {
    const { status, cells } = this.current;
    const models = [];
    const numbers = new Set();
    for (const key of cells.keys()) {
      const [model, number] = splitKey(key);
      if (!models.includes(model)) models.push(model);
      numbers.add(number);
    }
    const columns = [...numbers].sort((a, b) => a - b);
    const colors = new Map(this.models().map((m) => [m.name, this.safeColor(m.color)]));
    this.grid.replaceChildren(
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "model"), columns.map((n) => h("th", { scope: "col" }, `app${n}`)))),
      h("tbody", {}, models.map((model) => h("tr", { dataset: { model }, style: { "--model-color": colors.get(model) || "#6b7280" } },
        h("th", { scope: "row" }, h("span", { class: "swatch", "aria-hidden": "true" }), model),
        columns.map((n) => {
          const key = `${model}/app${n}`;
          return cells.has(key) ? h("td", { dataset: { cell: key } }) : h("td", { class: "none" });
        })))),
    );
    for (const key of cells.keys()) this.renderCell(key);
    this.legend.replaceChildren(
      `Each cell: ${status.steps.join(" · ")}. `,
      ...STEP_STATES.map((state) => h("span", { class: "legend-item" }, h("span", { class: "step-mark", dataset: { state } }), ` ${state} `)),
    );
  }

  renderCell(key) {
    const td = this.grid.querySelector(`td[data-cell="${CSS.escape(key)}"]`);
    const steps = this.current?.cells.get(key);
    if (!td || !steps) return;
    td.replaceChildren(...this.current.status.steps.map((step) => {
      const r = steps.get(step) || { state: "pending" };
      const why = r.error || r.reason || "";
      const reused = r.reused_from ? ` (reused from ${r.reused_from})` : "";
      return h("span", {
        class: "step-mark",
        dataset: { step, state: r.state },
        title: `${key} ${step}: ${r.state}${reused}${why ? `: ${why}` : ""}`,
        role: "img",
        "aria-label": `${step} ${r.state}`,
      });
    }));
  }

  // --- the report ---------------------------------------------------------------------------
  async loadReport(id, rebuild = false) {
    if (!id) return;
    if (rebuild) this.reports.delete(id);
    if (this.reports.has(id)) {
      if (id === this.selected) this.renderSelected();
      return;
    }
    this.reportState.textContent = "building the report…";
    this.compareState.textContent = "building the report…";
    try {
      const [json, html] = await Promise.all([
        apiFile(`/api/campaigns/${seg(id)}/report?format=json`).then(({ blob }) => blob.text()).then(JSON.parse),
        apiFile(`/api/campaigns/${seg(id)}/report?format=html`).then(({ blob }) => blob.text()),
      ]);
      this.reports.set(id, { json, html });
    } catch (err) {
      if (id === this.selected && err.status !== 401) {
        this.reportState.textContent = `report: ${describeError(err)}`;
        this.compareState.textContent = `report: ${describeError(err)}`;
      }
      return;
    }
    if (id === this.selected) this.renderSelected();
  }

  renderReport() {
    const report = this.reports.get(this.selected);
    const over = DONE.has(this.current.status.state);
    this.reportButton.textContent = report ? "Rebuild the report" : "Build the report";
    if (!report) {
      if (!this.reportState.textContent.startsWith("report:") && !this.reportState.textContent.startsWith("building")) {
        this.reportState.textContent = over ? "" : "The report is built when the campaign is over (or now, from the results so far).";
      }
      this.figures.replaceChildren();
      this.frame.hidden = true;
      return;
    }
    this.reportState.textContent = "";
    this.figures.replaceChildren(figureTable(report.json, this.models, this.safeColor));
    // sandboxed without scripts nor this origin: names and titles in it come from the fleet
    if (this.frame.srcdoc !== report.html) this.frame.srcdoc = report.html;
    this.frame.hidden = false;
  }

  renderCompare() {
    const s = this.current.status;
    this.compareTitle.textContent = `The models compared: ${s.name || s.campaign_id}`;
    this.compareView.querySelector(".back").href = campaignsHash(s.campaign_id);
    const report = this.reports.get(this.selected);
    if (!report) {
      this.compareBody.replaceChildren();
      if (!this.compareState.textContent.startsWith("report:")) this.compareState.textContent = "building the report…";
      if (!this.reports.has(this.selected)) this.loadReport(this.selected).catch(() => {});
      return;
    }
    const { models, names } = figuresOf(report.json);
    this.compareState.textContent = models.length
      ? `${models.length} models · every figure with its 95% interval and n, the apps (or, for requirements, the verdicts) it stands on`
      : "The report has no figures yet.";
    const colors = new Map(this.models().map((m) => [m.name, this.safeColor(m.color)]));
    this.compareBody.replaceChildren(...names.map((name) => compareFigure(name, models, colors, report.json)));
  }

  /** The report endpoint needs the bearer token: fetch it, then save it from a Blob URL. */
  async download(format, button) {
    const id = this.selected;
    button.setAttribute("aria-busy", "true");
    button.disabled = true;
    try {
      const { blob, filename } = await apiFile(`/api/campaigns/${seg(id)}/report?format=${encodeURIComponent(format)}`);
      const url = URL.createObjectURL(blob);
      const link = h("a", { href: url, download: filename || `genfleet-campaign-${id}.${EXTENSIONS[format] || format}`, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      if (err.status !== 401) this.reportState.textContent = `download (${format}): ${describeError(err)}`;
    } finally {
      button.removeAttribute("aria-busy");
      button.disabled = false;
    }
  }
}

// --- the figures of the JSON report ----------------------------------------------------------
const isFigure = (v) => v !== null && typeof v === "object" && !Array.isArray(v) && "value" in v && "ci95" in v && "n" in v;
// proportions (shown as percentages, on a 0..1 scale): the rates and shares
const isRate = (name) => name.endsWith("_rate") || name.endsWith("_share");

/** The report's figures per model (CampaignReport.models: each model's Figure fields
 * {value, ci95, n, note?}), and their names in the report's order. */
export function figuresOf(report) {
  const names = [];
  const models = (report?.models || []).map((m) => {
    const figures = {};
    for (const [name, value] of Object.entries(m)) {
      if (!isFigure(value)) continue;
      figures[name] = value;
      if (!names.includes(name)) names.push(name);
    }
    return { model: m.model, apps: m.apps, figures };
  });
  return { models, names };
}

function formatValue(name, v) {
  if (v == null || !Number.isFinite(v)) return "–";
  if (isRate(name)) return `${(100 * v).toFixed(1)}%`;
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2);
}

function intervalText(name, f) {
  if (!f?.ci95 || f.ci95.length !== 2 || f.ci95.some((x) => x == null)) return "–";
  return `[${formatValue(name, f.ci95[0])}, ${formatValue(name, f.ci95[1])}]`;
}

/** The omnibus test across the models on one figure, from the report's comparisons. */
function testText(report, name) {
  const c = (report?.comparisons || []).find((x) => x.metric === name);
  if (!c) return "";
  const o = c.omnibus;
  if (o.p_value == null) return `no test across the models${o.note || c.note ? `: ${o.note || c.note}` : ""}`;
  const test = o.test === "cochran_q" ? "Cochran's Q" : o.test === "friedman" ? "Friedman" : o.test;
  const holm = (c.pairwise || []).filter((p) => p.p_holm != null && p.p_holm < 0.05).map((p) => `${p.a} vs ${p.b}`);
  return `${test} across ${c.models.length} models paired on ${c.n} apps: p = ${o.p_value.toPrecision(2)}` +
    (holm.length ? `; pairs that differ (Holm, p < 0.05): ${holm.join(", ")}` : "");
}

/** The JSON report's figures: a row per figure, a column per model, each cell the value,
 * its 95% interval and n (the note, when there is one, as its title). */
function figureTable(report, models, safeColor) {
  const { models: columns, names } = figuresOf(report);
  if (!columns.length) return h("p", { class: "muted" }, "The report has no figures yet.");
  const colors = new Map(models().map((m) => [m.name, safeColor(m.color)]));
  return h("table", { class: "campaign-figures" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "figure"),
      columns.map((m) => h("th", { scope: "col", dataset: { model: m.model }, style: { "--model-color": colors.get(m.model) || "#6b7280" } },
        h("span", { class: "swatch", "aria-hidden": "true" }), m.model)))),
    h("tbody", {}, names.map((name) => h("tr", { dataset: { figure: name } },
      h("th", { scope: "row" }, name),
      columns.map((m) => {
        const f = m.figures[name];
        return h("td", { dataset: { model: m.model }, title: f?.note || null },
          f ? formatValue(name, f.value) : "–",
          f ? h("span", { class: "muted ci" }, ` ${intervalText(name, f)} n=${f.n}`) : null);
      })))));
}

/** One figure across the models: a dot per model with its 95% interval as an error bar
 * (inline SVG), and the numbers with n in a table beside it. */
function compareFigure(name, models, colors, report) {
  const rows = models.map((m) => ({ model: m.model, f: m.figures[name] })).filter((r) => r.f);
  const W = 420, rowH = 26, L = 150, R = 28, T = 8, B = 22; // prettier-ignore
  const H = T + B + rowH * Math.max(1, rows.length);
  const values = rows.flatMap((r) => [r.f.value, ...(r.f.ci95 || [])]).filter((v) => v != null && Number.isFinite(v));
  const lo = Math.min(0, ...values);
  let hi = Math.max(...values, isRate(name) ? 1 : 0);
  if (hi === lo) hi = lo + 1;
  const x = (v) => L + ((v - lo) / (hi - lo)) * (W - L - R);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart compare-chart", role: "img", "aria-label": `${name} per model, with 95% intervals` });
  chart.dataset.figure = name;
  chart.append(svg("title", {}, `${name} per model, with 95% intervals`));
  chart.append(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }));
  chart.append(svg("text", { x: L, y: H - 6, class: "tick", "text-anchor": "middle" }, formatValue(name, lo)));
  chart.append(svg("text", { x: W - R, y: H - 6, class: "tick", "text-anchor": "middle" }, formatValue(name, hi)));
  rows.forEach((r, i) => {
    const y = T + rowH * i + rowH / 2;
    const color = colors.get(r.model) || "#6b7280";
    const g = svg("g", { "data-model": r.model });
    g.append(svg("text", { x: L - 8, y: y + 4, class: "tick", "text-anchor": "end" }, r.model));
    const ci = r.f.ci95;
    if (ci && ci.length === 2 && ci.every((v) => v != null && Number.isFinite(v))) {
      g.append(svg("line", { x1: x(ci[0]), y1: y, x2: x(ci[1]), y2: y, stroke: color, "stroke-width": 2, class: "ci" }));
      for (const v of ci) g.append(svg("line", { x1: x(v), y1: y - 5, x2: x(v), y2: y + 5, stroke: color, "stroke-width": 2 }));
    }
    if (r.f.value != null && Number.isFinite(r.f.value)) {
      g.append(svg("circle", { cx: x(r.f.value), cy: y, r: 4, fill: color, class: "value" }));
    }
    chart.append(g);
  });
  const table = h("table", { class: "campaign-figures" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "model"), h("th", { scope: "col" }, "value"),
      h("th", { scope: "col" }, "95% interval"), h("th", { scope: "col" }, "n"), h("th", { scope: "col" }, "note"))),
    h("tbody", {}, rows.map((r) => h("tr", { dataset: { model: r.model } },
      h("th", { scope: "row" }, r.model), h("td", { dataset: { testid: "figure-value" } }, formatValue(name, r.f.value)),
      h("td", { dataset: { testid: "figure-ci" } }, intervalText(name, r.f)), h("td", { dataset: { testid: "figure-n" } }, String(r.f.n)),
      h("td", { class: "muted note" }, r.f.note || "")))));
  const test = testText(report, name);
  return h("section", { class: "compare-figure", dataset: { figure: name, testid: "compare-figure" } },
    h("h4", {}, name), rows.length ? chart : h("p", { class: "muted" }, "no model has this figure"), h("div", { class: "table-wrap" }, table),
    test ? h("p", { class: "muted compare-test", dataset: { testid: "compare-test" } }, test) : null);
}
