// The fleet table: one row per app (model, app, state, answering, ports, latest scan / load
// test / requirements analysis) with filters, sorting and a search box; the compact view of a
// fleet of hundreds of apps (main.js chooses it, or the cards).
//
// Rows are built once, when the table is first shown; afterwards a status event or a job's
// event rewrites the cells of its own row only (and only the cells whose text changed). Filters
// hide rows, a sort moves them: nothing is rebuilt and nothing reads layout.

import { seg } from "./api.js";
import { $, h } from "./dom.js";
import { JOBS, jobHref } from "./joblines.js";
import { ANSWERING_TEXT, answeringOf, appKey, badgeOf, diagnosisOf } from "./status.js";

export const appHash = (model, number) => `#app/${seg(model)}/${number}`;

/** A published port as the dashboard says it: "backend:5012", and when GenFleet publishes it
 * on another port than the compose file declares, "backend:5012 (declared 5000)". */
export function portText(service, port) {
  const proto = port.protocol && port.protocol !== "tcp" ? `/${port.protocol}` : "";
  const declared = port.declared_host_port != null && port.declared_host_port !== port.host_port
    ? ` (declared ${port.declared_host_port})`
    : "";
  return `${service.name}:${port.host_port}${proto}${declared}`;
}

/** What the search box looks in: the row's words as shown, and the model's own name. */
const searchText = (row) => `${row.key} ${[...row.tr.cells].map((c) => c.textContent).join(" ")}`.toLowerCase();

const STATE_ORDER = { running: 0, partial: 1, stopped: 2, unknown: 3 };
const ANSWERING_ORDER = { answering: 0, checking: 1, not_answering: 2, none: 3 };
const compareText = (a, b) => a.localeCompare(b, undefined, { numeric: true, sensitivity: "base" });

/** The columns: key (sort and data-col), title, the first click's direction. */
const COLUMNS = [
  { key: "model", title: "Model", first: 1 },
  { key: "app", title: "App", first: 1 },
  { key: "state", title: "State", first: 1 },
  { key: "answering", title: "Answering", first: 1 },
  { key: "ports", title: "Ports", first: 1 },
  ...JOBS.map((job) => ({ key: job.kind, title: job.title, first: -1 })), // most findings, RPS, met first
];

export class FleetTable {
  /**
   * @param {object} options
   * @param {import("./joblines.js").LatestJobs} options.latest each app's latest jobs
   * @param {(model: string) => string} options.colorOf the model's (safe) colour
   */
  constructor({ latest, colorOf }) {
    this.latest = latest;
    this.colorOf = colorOf;
    this.root = $("#fleet-table-view");
    this.table = $("#fleet-table");
    this.tbody = this.table.tBodies[0];
    this.rows = new Map(); // "model/appN" -> row (see makeRow)
    this.order = []; // the rows in their shown order
    this.models = [];
    this.entries = null; // main.js's apps: "model/appN" -> {model, spec, status, ...}
    this.clashes = new Map(); // "model/appN" -> [{service, host_port, text}]
    this.built = false;
    this.sort = { key: "model", dir: 1 };
    this.filter = { model: "", state: "", answering: "", text: "" };
    this.resortSoon = 0;
    latest.onChange((job, status) => this.showJob(job, status));
    this.wire();
  }

  // --- the controls ------------------------------------------------------------------------
  wire() {
    const head = this.table.tHead.rows[0];
    head.replaceChildren(
      ...COLUMNS.map((col) =>
        h(
          "th",
          { scope: "col", dataset: { col: col.key }, "aria-sort": "none" },
          h("button", { type: "button", class: "sort", dataset: { sort: col.key }, onclick: () => this.sortBy(col.key) }, col.title),
        ),
      ),
    );
    const filters = [
      ["#ft-model", "model"],
      ["#ft-state", "state"],
      ["#ft-answering", "answering"],
    ];
    for (const [selector, key] of filters) {
      $(selector).addEventListener("change", (e) => {
        this.filter[key] = e.currentTarget.value;
        this.applyFilter();
      });
    }
    $("#ft-search").addEventListener("input", (e) => {
      this.filter.text = e.currentTarget.value.trim().toLowerCase();
      this.applyFilter();
    });
    $("#fleet-filters").addEventListener("submit", (e) => e.preventDefault());
    this.showSort();
  }

  /** A new fleet (the page's first load, or after signing in again): the rows are made anew
   * the next time the table is shown. */
  setFleet(models, entries, clashes) {
    this.models = models;
    this.entries = entries;
    this.clashes.clear();
    for (const clash of clashes || []) {
      for (const user of clash.users) {
        const match = /^(.*\/app\d+):(.*)$/.exec(user);
        if (!match) continue;
        const others = clash.users.filter((u) => u !== user).join(", ");
        const list = this.clashes.get(match[1]) || [];
        list.push({ service: match[2], host_port: clash.host_port, text: `host port ${clash.host_port}/${clash.protocol} is also published by ${others}` });
        this.clashes.set(match[1], list);
      }
    }
    const select = $("#ft-model");
    select.replaceChildren(
      h("option", { value: "" }, "any"),
      ...models.map((m) => h("option", { value: m.name }, m.display_name || m.name)),
    );
    select.value = models.some((m) => m.name === this.filter.model) ? this.filter.model : "";
    this.filter.model = select.value;
    this.rows.clear();
    this.order = [];
    this.tbody.replaceChildren();
    this.built = false;
    if (!this.root.hidden) this.build();
  }

  show() {
    this.root.hidden = false;
    if (!this.built) this.build();
  }

  hide() {
    this.root.hidden = true;
  }

  // --- rows --------------------------------------------------------------------------------
  /** Every row at once, from what the page knows now: one insertion into the document. */
  build() {
    if (!this.entries) return;
    const template = h("tr", {}, COLUMNS.map((col) => h("td", { dataset: { col: col.key } })));
    const modelIndex = new Map(this.models.map((m, i) => [m.name, i]));
    for (const entry of this.entries.values()) {
      const row = this.makeRow(entry, template.cloneNode(true), modelIndex.get(entry.model) ?? 0);
      this.rows.set(row.key, row);
      this.order.push(row);
    }
    this.order.sort((a, b) => this.compare(a, b));
    const fragment = document.createDocumentFragment();
    for (const row of this.order) {
      row.tr.hidden = !this.matches(row);
      fragment.append(row.tr);
    }
    this.tbody.replaceChildren(fragment);
    this.built = true;
    this.showCount();
  }

  makeRow(entry, tr, modelIndex) {
    const { spec } = entry;
    const model = this.models[modelIndex];
    const key = appKey(entry.model, spec.number);
    const cells = Object.fromEntries(COLUMNS.map((col, i) => [col.key, tr.cells[i]]));
    tr.dataset.row = key;
    tr.style.setProperty("--model-color", this.colorOf(entry.model));
    cells.model.textContent = model?.display_name || entry.model;
    cells.model.title = entry.model;
    cells.app.append(h("a", { href: appHash(entry.model, spec.number), "aria-label": `Open ${key}` }, `app${spec.number}`));
    const clashes = this.clashes.get(key) || [];
    const ports = [];
    let firstPort = Infinity;
    for (const service of spec.services || []) {
      for (const port of service.ports || []) {
        firstPort = Math.min(firstPort, port.host_port);
        // a clash names the port the compose file declares (the effective one, unless moved)
        const declaredPort = port.declared_host_port ?? port.host_port;
        const clash = clashes.find((c) => c.service === service.name && c.host_port === declaredPort);
        const text = portText(service, port);
        const dataset = { service: service.name, port: String(port.host_port) };
        if (port.declared_host_port != null) dataset.declared = String(port.declared_host_port);
        const tcp = !port.protocol || port.protocol === "tcp";
        ports.push(
          tcp
            ? h("a", {
              href: `http://127.0.0.1:${port.host_port}/`,
              target: "_blank",
              rel: "noopener noreferrer",
              class: clash ? "port clash" : "port",
              title: clash?.text,
              dataset,
            }, text)
            : h("span", { class: "port", dataset }, text),
        );
      }
    }
    if (ports.length) cells.ports.append(...ports);
    else cells.ports.textContent = "–";
    const row = {
      key,
      entry,
      tr,
      cells,
      modelIndex,
      modelName: (model?.display_name || entry.model).toLowerCase(),
      number: spec.number,
      firstPort,
      state: "",
      answering: "",
      weights: {},
      search: "",
    };
    this.fillStatus(row);
    for (const job of JOBS) {
      const status = this.latest.get(job.kind, entry.model, spec.number);
      if (status) this.fillJob(row, job, status);
      else {
        row.cells[job.kind].textContent = "–";
        row.weights[job.kind] = -2;
      }
    }
    row.search = searchText(row);
    return row;
  }

  /** The state and answering cells from the app's status. */
  fillStatus(row) {
    const status = row.entry.status;
    const state = status?.state || "unknown";
    const answering = status ? answeringOf(status) : "none";
    const badge = badgeOf(status).state;
    if (row.tr.dataset.state !== badge) row.tr.dataset.state = badge;
    if (state !== row.state) {
      row.state = state;
      row.cells.state.textContent = state;
    }
    const why = diagnosisOf(status);
    const whyText = why.map((d) => d.text).join("\n");
    if (answering === row.answering && whyText === row.whyText) return false;
    row.answering = answering;
    row.whyText = whyText;
    const cell = row.cells.answering;
    cell.dataset.answer = answering;
    cell.replaceChildren(
      h("span", { class: "answer" }, ANSWERING_TEXT[answering]),
      ...why.map((d) => h("span", { class: "why", dataset: { kind: d.kind }, title: d.logs.join("\n") }, d.text)),
    );
    return true;
  }

  fillJob(row, job, status) {
    const cell = row.cells[job.kind];
    cell.dataset.state = status.state;
    cell.replaceChildren(h("a", { href: jobHref(job, status) }, job.outcome(status)));
    row.weights[job.kind] = job.weight(status);
  }

  /** A status event (or the snapshot) changed this app's status: its row, and nothing else. */
  showStatus(entry) {
    const row = this.rows.get(appKey(entry.model, entry.spec.number));
    if (!row) return;
    this.fillStatus(row);
    this.refreshRow(row, this.sort.key === "state" || this.sort.key === "answering");
  }

  /** Every row's status at once (after a snapshot). */
  showAllStatus() {
    if (!this.built) return;
    for (const row of this.order) this.fillStatus(row);
    this.refreshAll();
  }

  showJob(job, status) {
    const row = this.rows.get(appKey(status.model, status.app));
    if (!row) return;
    this.fillJob(row, job, status);
    this.refreshRow(row, this.sort.key === job.kind);
  }

  /** After a row's cells changed: its search text, whether it passes the filters, its place. */
  refreshRow(row, resort) {
    row.search = searchText(row);
    const hidden = !this.matches(row);
    if (row.tr.hidden !== hidden) {
      row.tr.hidden = hidden;
      this.showCount();
    }
    if (resort && !this.resortSoon) {
      // a burst of events (a batch start) moves the rows once, in the next frame
      this.resortSoon = requestAnimationFrame(() => {
        this.resortSoon = 0;
        this.resort();
      });
    }
  }

  refreshAll() {
    for (const row of this.order) row.search = searchText(row);
    this.applyFilter();
    this.resort();
  }

  // --- filters, search, sort -----------------------------------------------------------------
  matches(row) {
    const f = this.filter;
    if (f.model && row.entry.model !== f.model) return false;
    if (f.state && row.state !== f.state) return false;
    if (f.answering && row.answering !== f.answering) return false;
    return !f.text || row.search.includes(f.text);
  }

  applyFilter() {
    for (const row of this.order) {
      const hidden = !this.matches(row);
      if (row.tr.hidden !== hidden) row.tr.hidden = hidden;
    }
    this.showCount();
  }

  showCount() {
    let shown = 0;
    for (const row of this.order) if (!row.tr.hidden) shown += 1;
    const total = this.order.length;
    const text = shown === total ? `${total} app${total === 1 ? "" : "s"}` : `${shown} of ${total} apps`;
    const count = $("#ft-count");
    if (count.textContent !== text) count.textContent = text;
    $("#ft-empty").hidden = shown > 0 || total === 0;
  }

  sortBy(key) {
    const col = COLUMNS.find((c) => c.key === key);
    this.sort = this.sort.key === key ? { key, dir: -this.sort.dir } : { key, dir: col.first };
    this.showSort();
    this.resort();
  }

  showSort() {
    for (const th of this.table.tHead.rows[0].cells) {
      const sorted = th.dataset.col === this.sort.key;
      th.setAttribute("aria-sort", sorted ? (this.sort.dir > 0 ? "ascending" : "descending") : "none");
    }
  }

  compare(a, b) {
    const { key, dir } = this.sort;
    let d = 0;
    if (key === "model") d = compareText(a.modelName, b.modelName) || a.modelIndex - b.modelIndex;
    else if (key === "app") d = a.number - b.number;
    else if (key === "state") d = STATE_ORDER[a.state] - STATE_ORDER[b.state];
    else if (key === "answering") d = ANSWERING_ORDER[a.answering] - ANSWERING_ORDER[b.answering];
    else if (key === "ports") d = (a.firstPort === b.firstPort ? 0 : a.firstPort < b.firstPort ? -1 : 1);
    else d = (a.weights[key] ?? -2) - (b.weights[key] ?? -2);
    if (d) return d * dir;
    // ties: the fleet's own order (model, then app number)
    return a.modelIndex - b.modelIndex || a.number - b.number;
  }

  /** Puts the rows in the sort's order: moves only when the order changed. */
  resort() {
    if (!this.built) return;
    const sorted = [...this.order].sort((a, b) => this.compare(a, b));
    if (sorted.every((row, i) => row === this.order[i])) return;
    this.order = sorted;
    const fragment = document.createDocumentFragment();
    for (const row of sorted) fragment.append(row.tr);
    this.tbody.append(fragment);
  }
}
