// GenFleet dashboard: the fleet as cards (apps grouped by model) or as a table (one row per
// app, see fleettable.js), live badges from /api/events, actions, logs, one app's card alone
// (#app/<model>/<n>), an app's security scans (#scan/<model>/<n>, see scans.js), load tests (#perf/<model>/<n>,
// see perf.js), requirements analyses (#analysis/<model>/<n>, see analyses.js), spec tests
// (#spectest/<model>/<n>, see spectests.js), and the campaigns (#campaigns/[<id>[/compare]], see campaigns.js).

import {
  api,
  clearToken,
  describeError,
  getToken,
  newId,
  notifyUnauthorized,
  onUnauthorized,
  seg,
  setToken,
  tokenClaims,
} from "./api.js";
import { $, formatBytes, formatDuration, h } from "./dom.js";
import { EventStream } from "./live.js";
import { LogView } from "./logs.js";
import { AnalysisView, analysisHash } from "./analyses.js";
import { SpecTestView, spectestHash } from "./spectests.js";
import { CampaignView } from "./campaigns.js";
import { FleetTable, portText } from "./fleettable.js";
import { JOBS, LatestJobs, jobLines, scanHash, showJobLine } from "./joblines.js";
import { PerfView, perfHash } from "./perf.js";
import { ScanView } from "./scans.js";
import { appKey, applyStatusEvent, badgeOf, containerClass, containerText, diagnosisOf } from "./status.js";

const APP_ACTIONS = ["start", "stop", "restart", "build"];
const OUTPUT_LINES = 12;
const SYSTEM_REFRESH_MS = 15_000;
const SYSTEM_AFTER_EVENT_MS = 2_000; // container counts follow status events, at most this often
const VIEW_KEY = "genfleet.fleetView"; // the view the user chose last: "cards" or "table"
const LARGE_FLEET = 40; // apps: without a choice, a fleet this large opens as the table

const state = {
  models: [], // ModelSpec[] from /api/fleet
  colors: new Map(), // model name -> its (safe) colour
  view: "cards", // how the fleet is shown: "cards" or "table"
  apps: new Map(), // "model/appN" -> {model, spec, status, card, output: string[], busy, result}
  sections: new Map(), // model name -> section element
  cardsBuilt: false, // the cards are made when first shown (a table of 270 apps needs none)
  pending: null, // while a status snapshot loads: the status events that arrived meanwhile
  batches: new Map(), // batch_id -> {model, action, finish}: the batches this page started
  systemTimer: null,
  systemSoon: null,
};

const logView = new LogView();
const events = new EventStream({
  onEvent: handleEvent,
  onState: showLive,
  onOpen: () => {
    // (re)connected: take a fresh snapshot; events that arrive meanwhile are replayed on it
    loadStatus().catch(showFailure);
  },
  onFatal: (close) => {
    if (close.code === 4401) notifyUnauthorized();
    else if (close.code === 4403) showBanner("Live updates: your role cannot do this.");
    else showBanner(`Live updates refused: ${close.reason || close.code}`);
  },
  onRefused: () => {
    // a socket refused before opening is often a bad token: any API call tells (401 -> login)
    refreshSystem();
  },
});

const scanView = new ScanView({ events, appInfo: scanAppInfo });
const latestJobs = new LatestJobs({ events });
latestJobs.onChange((job, status) => {
  const card = state.apps.get(appKey(status.model, status.app))?.card;
  if (card) showJobLine(card, job, status);
});
const fleetTable = new FleetTable({ latest: latestJobs, colorOf: (model) => state.colors.get(model) || safeColor(null) });
const perfView = new PerfView({ events, appInfo: scanAppInfo });
const analysisView = new AnalysisView({ events, appInfo: scanAppInfo });
const spectestView = new SpecTestView({ events, appInfo: scanAppInfo });
const campaignView = new CampaignView({ events, models: () => state.models, safeColor });

// --- login --------------------------------------------------------------------------------
function showLogin(message = "") {
  events.stop();
  logView.close();
  scanView.close();
  perfView.close();
  analysisView.close();
  spectestView.close();
  campaignView.close();
  clearInterval(state.systemTimer);
  $("#dashboard").hidden = true;
  $("#topnav").hidden = true;
  $("#login").hidden = false;
  $("#logout").hidden = true;
  $("#whoami").hidden = true;
  $("#login-error").textContent = message;
  $("#token").value = "";
  $("#token").focus();
}

onUnauthorized(() => {
  if (!$("#login").hidden) return;
  showLogin(getToken() ? "Your token was refused or has expired: sign in again." : "");
});

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const token = $("#token").value.trim();
  if (!token) return;
  setToken(token);
  $("#login-error").textContent = "";
  $("#login").hidden = true;
  await boot();
});

$("#logout").addEventListener("click", () => {
  clearToken();
  showLogin();
});

// --- boot ---------------------------------------------------------------------------------
// `genfleet up` prints the dashboard URL as /#token=...: the fragment never reaches a server
// or a log; keep the token and take it out of the address bar.
function tokenFromFragment() {
  const match = /^#token=([^&]+)$/.exec(location.hash);
  if (match) {
    setToken(decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
}

async function boot() {
  tokenFromFragment();
  if (!getToken()) {
    showLogin();
    return;
  }
  const claims = tokenClaims();
  const who = $("#whoami");
  who.textContent = claims ? `${claims.sub ?? "?"} · ${claims.role ?? "?"}` : "";
  who.hidden = !claims;
  document.body.dataset.role = claims?.role ?? "";
  $("#logout").hidden = false;
  try {
    // the first statuses come with the fleet (two fleet-wide requests at once); the socket's
    // open takes a fresh snapshot again, so no event between the two is missed
    const [fleet, apps] = await Promise.all([
      api("GET", "/api/fleet"),
      api("GET", "/api/apps").catch((err) => err),
    ]);
    renderFleet(fleet);
    if (!(apps instanceof Error)) showSnapshot(apps);
  } catch (err) {
    if (err.status === 401) return; // the login is shown
    $("#dashboard").hidden = false;
    showBanner(`Could not load the fleet: ${describeError(err)}`);
    return;
  }
  $("#dashboard").hidden = false;
  $("#login").hidden = true;
  $("#topnav").hidden = false;
  route();
  refreshSystem();
  latestJobs.loadLatest();
  clearInterval(state.systemTimer);
  state.systemTimer = setInterval(() => {
    if (document.visibilityState === "visible") refreshSystem();
  }, SYSTEM_REFRESH_MS);
  // statuses come with the socket's first open (see onOpen), then only from events
  events.stop();
  events.start();
}

function showBanner(text) {
  const banner = $("#banner");
  banner.textContent = text;
  banner.hidden = !text;
}

function showFailure(err) {
  if (err?.status !== 401) showBanner(describeError(err));
}

// --- system strip -------------------------------------------------------------------------
async function refreshSystem() {
  try {
    renderSystem(await api("GET", "/api/system"));
  } catch (err) {
    if (err.status !== 401) $("#sys-cpu").textContent = `unavailable (${describeError(err)})`;
  }
}

function refreshSystemSoon() {
  if (state.systemSoon) return;
  state.systemSoon = setTimeout(() => {
    state.systemSoon = null;
    refreshSystem();
  }, SYSTEM_AFTER_EVENT_MS);
}

function renderSystem(info) {
  $("#sys-cpu").textContent = `${info.cpu_percent.toFixed(0)} % of ${info.cpu_count} cores`;
  $("#sys-mem").textContent =
    `${formatBytes(info.memory_used)} / ${formatBytes(info.memory_total)} (${info.memory_percent.toFixed(0)} %)`;
  $("#sys-disk").textContent =
    `${formatBytes(info.disk_used)} / ${formatBytes(info.disk_total)} (${info.disk_percent.toFixed(0)} %)`;
  renderEngine(info.engine, info.engine_version);
  const c = info.containers;
  $("#sys-containers").textContent = `${c.running} running / ${c.total}`;
  const a = info.apps_total;
  $("#sys-apps").textContent = `${a.running} running, ${a.partial} partial, ${a.stopped} stopped`;
  renderGuard(info.host);
}

// container-svc's network guard: the apps' networks reach nothing of the host (docs/security.md)
function renderGuard(host) {
  const el = $("#sys-guard");
  const guarded = host ? host.network_guard : undefined;
  el.dataset.state = guarded === true ? "guarded" : guarded === false ? "unguarded" : guarded === null ? "off" : "unknown";
  el.textContent = { guarded: "guarded", unguarded: "NOT guarded", off: "guard off", unknown: "–" }[el.dataset.state];
  el.title = (host?.problems || []).join("\n");
}

function renderEngine(engine, version = "") {
  const el = $("#sys-engine");
  el.dataset.state = engine.available ? "available" : "unavailable";
  el.textContent = engine.available
    ? `available${version ? ` (${version})` : ""}`
    : `unavailable${engine.reason ? `: ${engine.reason}` : ""}`;
  el.title = engine.reason || "";
}

// --- live indicator -----------------------------------------------------------------------
function showLive(liveState, detail = "") {
  const el = $("#live");
  el.dataset.state = liveState;
  el.textContent = liveState === "live" ? "live" : liveState === "reconnecting" ? "reconnecting…" : "offline";
  el.title = detail;
}

// --- fleet --------------------------------------------------------------------------------
function renderFleet(fleet) {
  state.models = fleet.models || [];
  state.colors = new Map(state.models.map((m) => [m.name, safeColor(m.color)]));
  state.apps.clear();
  state.sections.clear();
  latestJobs.clear();
  for (const model of state.models) {
    for (const spec of [...(model.apps || [])].sort((a, b) => a.number - b.number)) {
      const entry = { model: model.name, spec, status: null, card: null, output: [], busy: null, result: null };
      state.apps.set(appKey(model.name, spec.number), entry);
    }
  }
  state.cardsBuilt = false;
  state.fleetRoot = fleet.root;
  $("#models").replaceChildren();
  const clashes = $("#clashes");
  clashes.replaceChildren();
  const n = fleet.clashes?.length || 0;
  if (n) {
    // one line, opened on demand: a real fleet can clash on dozens of ports
    clashes.append(
      h(
        "details",
        { dataset: { testid: "clashes" } },
        h("summary", {}, `${n} host port clash${n === 1 ? "" : "es"}: ${fleet.strict_ports
          ? "the later apps are refused (fleet.toml [ports] strict = true)"
          : "an app that clashes with itself, or no free port was left in the remap range: refused"}`),
        h(
          "ul",
          {},
          fleet.clashes.map((c) =>
            h("li", {}, `${c.host_ip ? `${c.host_ip}:` : ""}${c.host_port}/${c.protocol}: ${c.users.join(", ")}`),
          ),
        ),
      ),
    );
  }
  const remaps = fleet.remaps || [];
  if (remaps.length) {
    // apps that run anyway, on ports (or names) GenFleet gave them: said once, opened on demand
    clashes.append(
      h(
        "details",
        { dataset: { testid: "remaps" } },
        h("summary", {}, `${remaps.length} declared host port${remaps.length === 1 ? "" : "s"} or container name${remaps.length === 1 ? "" : "s"} clash with another app's: replaced, these apps run anyway`),
        h("ul", {}, remaps.map((line) => h("li", {}, line))),
      ),
    );
  }
  clashes.hidden = !n && !remaps.length;
  fleetTable.setFleet(state.models, state.apps, fleet.clashes);
  setView(chosenView(state.apps.size), false);
}

/** The cards, once, when first shown: each from what the page knows of its app by then. */
function ensureCards() {
  if (state.cardsBuilt) return;
  state.cardsBuilt = true;
  const root = $("#models");
  root.replaceChildren(...state.models.map(renderModel));
  if (!state.models.length) {
    root.append(h("p", { class: "muted" }, `No models in the fleet (${state.fleetRoot}).`));
  }
  for (const entry of state.apps.values()) {
    if (!entry.card) continue;
    renderStatus(entry);
    for (const job of JOBS) {
      const status = latestJobs.get(job.kind, entry.model, entry.spec.number);
      if (status) showJobLine(entry.card, job, status);
    }
    const { busy, result } = entry;
    if (busy) {
      setBusy(entry, busy.action, null, `${busy.action} running…`);
      entry.busy = busy; // still this page's own action if it was
    } else if (result) setResult(entry, result.kind, result.text);
    renderOutput(entry);
  }
  for (const model of state.sections.keys()) renderCounts(model);
}

// --- cards or table -------------------------------------------------------------------------
/** The view the user chose last; without a choice, the table for a large fleet. */
function chosenView(apps) {
  const chosen = localStorage.getItem(VIEW_KEY);
  if (chosen === "cards" || chosen === "table") return chosen;
  return apps >= LARGE_FLEET ? "table" : "cards";
}

/** Show the fleet as `view` ("cards" or "table"); `remember`: the user's choice, kept. */
function setView(view, remember) {
  state.view = view;
  if (remember) localStorage.setItem(VIEW_KEY, view);
  for (const button of document.querySelectorAll("#fleet-bar [data-view]")) {
    button.setAttribute("aria-pressed", String(button.dataset.view === view));
  }
  if (!$("#dashboard").hidden) route();
}

for (const button of document.querySelectorAll("#fleet-bar [data-view]")) {
  button.addEventListener("click", () => setView(button.dataset.view, true));
}

/**
 * What the fleet part of the page shows: "fleet" (the cards or the table, as chosen), "app"
 * (one app's card alone, `key`), or "none" (another view has the page).
 */
function showFleet(what, key = "") {
  const models = $("#models");
  const table = what === "fleet" && state.view === "table";
  $("#fleet-bar").hidden = what !== "fleet";
  $("#fleet-filters").hidden = !table;
  if (what === "app" || (what === "fleet" && !table)) ensureCards();
  if (table) fleetTable.show();
  else fleetTable.hide();
  models.hidden = !(what === "app" || (what === "fleet" && !table));
  $("#app-back").hidden = what !== "app";
  // one app's card alone: its model's section and that card only (app.css)
  const only = what === "app" ? key : "";
  if ((models.dataset.only || "") !== only) {
    for (const el of models.querySelectorAll("[data-current]")) el.removeAttribute("data-current");
    if (only) {
      const card = state.apps.get(only)?.card;
      card?.setAttribute("data-current", "");
      card?.closest("section.model")?.setAttribute("data-current", "");
      models.dataset.only = only;
    } else delete models.dataset.only;
  }
}

function safeColor(color) {
  return typeof color === "string" && CSS.supports("color", color) ? color : "#6b7280";
}

function renderModel(model) {
  const color = safeColor(model.color);
  const headingId = `model-${state.sections.size}`;
  const section = h(
    "section",
    { class: "model", dataset: { model: model.name }, style: { "--model-color": color }, "aria-labelledby": headingId },
    h(
      "header",
      { class: "model-head" },
      h("span", { class: "swatch", "aria-hidden": "true" }),
      h("h2", { id: headingId }, model.display_name || model.name),
      h("code", { class: "model-name" }, model.name),
      h("span", { class: "counts", dataset: { testid: "model-counts" } }),
      h(
        "div",
        { class: "model-actions" },
        h("button", {
          type: "button",
          class: "small",
          dataset: { action: "start-all" },
          "aria-label": `Start all apps of ${model.name}`,
          onclick: (e) => runBatch(model.name, "start", e.currentTarget),
        }, "Start all"),
        h("button", {
          type: "button",
          class: "small outline",
          dataset: { action: "stop-all" },
          "aria-label": `Stop all apps of ${model.name}`,
          onclick: (e) => runBatch(model.name, "stop", e.currentTarget),
        }, "Stop all"),
      ),
    ),
    h(
      "div",
      { class: "batch", hidden: true },
      h("progress", { dataset: { testid: "batch-progress" }, value: 0, max: 1, "aria-label": `Batch progress of ${model.name}` }),
      h("span", { class: "batch-text", role: "status" }),
    ),
    h("div", { class: "apps" }, [...(model.apps || [])].sort((a, b) => a.number - b.number).map((app) => renderApp(model, app))),
  );
  state.sections.set(model.name, section);
  return section;
}

function renderApp(model, spec) {
  const key = appKey(model.name, spec.number);
  const links = [];
  for (const service of spec.services || []) {
    for (const port of service.ports || []) {
      if (port.protocol && port.protocol !== "tcp") continue;
      const declared = port.declared_host_port != null ? { declared: String(port.declared_host_port) } : {};
      links.push(
        h("a", {
          href: `http://127.0.0.1:${port.host_port}/`,
          target: "_blank",
          rel: "noopener noreferrer",
          dataset: { service: service.name, port: String(port.host_port), ...declared },
        }, portText(service, port)),
      );
    }
  }
  const card = h(
    "article",
    { class: "app-card", dataset: { app: key }, "aria-label": key },
    h(
      "header",
      { class: "app-head" },
      h("h3", {}, `app${spec.number}`),
      h("span", { class: "badge", dataset: { testid: "badge", state: "unknown" }, role: "status" }, "…"),
    ),
    h("ul", { class: "containers", dataset: { testid: "containers" } }),
    h("p", { class: "diagnosis", dataset: { testid: "diagnosis" }, hidden: true }),
    links.length ? h("p", { class: "links" }, links) : null,
    h(
      "div",
      { class: "actions", role: "group", "aria-label": `Actions for ${key}` },
      APP_ACTIONS.map((action) =>
        h("button", {
          type: "button",
          class: `small ${action === "start" ? "" : "outline"}`,
          dataset: { action },
          "aria-label": `${action[0].toUpperCase()}${action.slice(1)} ${key}`,
          onclick: (e) => runAction(key, action, e.currentTarget),
        }, action),
      ),
      h("button", {
        type: "button",
        class: "small secondary outline",
        dataset: { action: "logs" },
        "aria-label": `Show the logs of ${key}`,
        onclick: () => openLogs(key),
      }, "logs"),
    ),
    h(
      "div",
      { class: "scan-row" },
      h("button", {
        type: "button",
        class: "small secondary outline",
        dataset: { action: "scan" },
        "aria-label": `Scan ${key} with every tool`,
        onclick: (e) => runCardScan(key, e.currentTarget),
      }, "scan"),
      h("a", {
        href: scanHash(model.name, spec.number),
        class: "scans-link",
        dataset: { action: "scans" },
        "aria-label": `Show the scans of ${key}`,
      }, "scans"),
      h("a", {
        href: perfHash(model.name, spec.number),
        class: "scans-link",
        dataset: { action: "perf" },
        "aria-label": `Load-test ${key}`,
      }, "load tests"),
      h("a", {
        href: analysisHash(model.name, spec.number),
        class: "scans-link",
        dataset: { action: "requirements" },
        "aria-label": `Show the requirements analyses of ${key}`,
      }, "requirements"),
      h("a", {
        href: spectestHash(model.name, spec.number),
        class: "scans-link",
        dataset: { action: "spectests" },
        "aria-label": `Show the spec tests of ${key}`,
      }, "spec tests"),
    ),
    jobLines(),
    h("p", { class: "result", dataset: { testid: "result" }, role: "status", "aria-live": "polite" }),
    h("pre", { class: "output", dataset: { testid: "output" }, hidden: true, "aria-label": `Output of ${key}` }),
  );
  state.apps.get(key).card = card;
  return card;
}

// --- status -------------------------------------------------------------------------------
async function loadStatus() {
  state.pending = [];
  let reply;
  try {
    reply = await api("GET", "/api/apps");
  } catch (err) {
    state.pending = null;
    throw err;
  }
  const replay = state.pending;
  state.pending = null;
  showSnapshot(reply, replay);
}

/** Every app's status from a snapshot (GET /api/apps), then the status events that arrived
 * while it loaded, in order: the last one per container wins. */
function showSnapshot(reply, replay = []) {
  renderEngine(reply.engine);
  showBanner(reply.engine.available ? "" : `Docker engine unavailable: ${reply.engine.reason || "unknown reason"}`);
  for (const status of reply.apps) {
    const entry = state.apps.get(appKey(status.model, status.app));
    if (entry) entry.status = status;
  }
  for (const event of replay) applyStatus(event);
  for (const entry of state.apps.values()) renderStatus(entry);
  for (const model of state.sections.keys()) renderCounts(model);
  fleetTable.showAllStatus();
}

function applyStatus(event) {
  const entry = state.apps.get(appKey(event.model, event.app));
  if (!entry) return null;
  entry.status = applyStatusEvent(entry.status, event);
  return entry;
}

function renderStatus(entry) {
  const { card, status } = entry;
  if (!card) return; // the cards are not made (yet)
  const badge = card.querySelector('[data-testid="badge"]');
  const { state: badgeState, label } = badgeOf(status);
  badge.dataset.state = badgeState;
  badge.textContent = label;
  card.dataset.state = badgeState;
  const list = card.querySelector(".containers");
  list.replaceChildren(
    ...(status?.containers || []).map((c) =>
      h(
        "li",
        { dataset: { service: c.service, state: containerClass(c) } },
        h("span", { class: "dot", "aria-hidden": "true" }),
        h("span", { class: "svc" }, c.service),
        h("span", { class: "cstate" }, containerText(c)),
      ),
    ),
  );
  // why it does not answer; its last log lines on hover
  const why = diagnosisOf(status);
  const diagnosis = card.querySelector(".diagnosis");
  diagnosis.hidden = !why.length;
  diagnosis.dataset.kind = why.map((d) => d.kind).join(" ");
  diagnosis.replaceChildren(...why.map((d) => h("span", { title: d.logs.join("\n") }, d.text)));
}

function renderCounts(model) {
  const counts = { running: 0, partial: 0, stopped: 0 };
  let total = 0;
  for (const entry of state.apps.values()) {
    if (entry.model !== model) continue;
    total += 1;
    if (entry.status) counts[entry.status.state] = (counts[entry.status.state] || 0) + 1;
  }
  const el = state.sections.get(model)?.querySelector(".counts");
  if (!el) return;
  const parts = [`${counts.running}/${total} running`];
  if (counts.partial) parts.push(`${counts.partial} partial`);
  el.textContent = parts.join(" · ");
}

// --- events -------------------------------------------------------------------------------
function handleEvent(event) {
  switch (event.kind) {
    case "status": {
      if (state.pending) state.pending.push(event);
      const entry = applyStatus(event);
      if (entry) {
        renderStatus(entry);
        fleetTable.showStatus(entry);
        renderCounts(entry.model);
        refreshSystemSoon();
      }
      break;
    }
    case "action":
      handleActionEvent(event);
      break;
    case "batch":
      handleBatchEvent(event);
      break;
    case "engine":
      renderEngine(event);
      showBanner(event.available ? "" : `Docker engine unavailable: ${event.reason || "unknown reason"}`);
      break;
    default:
      break;
  }
}

function handleActionEvent(event) {
  const entry = state.apps.get(appKey(event.model, event.app));
  if (!entry) return;
  if (event.phase === "started") {
    entry.output = [];
    if (!entry.busy) setBusy(entry, event.action, null, `${event.action} running…`);
  } else if (event.phase === "output") {
    entry.output.push(event.line);
    if (entry.output.length > OUTPUT_LINES) entry.output.splice(0, entry.output.length - OUTPUT_LINES);
  } else if (event.phase === "finished" && entry.busy && !entry.busy.mine) {
    setBusy(entry, null);
    setResult(entry, event.ok ? "ok" : "error", `${event.action}: ${event.ok ? "ok" : "failed"}`);
  }
  renderOutput(entry);
}

/** The last lines of the app's running action (compose output) on its card. */
function renderOutput(entry) {
  const pre = entry.card?.querySelector(".output");
  if (!pre) return;
  pre.textContent = entry.output.join("\n");
  pre.hidden = entry.output.length === 0;
  pre.scrollTop = pre.scrollHeight;
}

const BATCH_RUNNING = new Set(["QUEUED", "RUNNING"]);

/** A batch's progress: one event per app done, one per change of the batch's state (app
 * null; the batch's own model, null for the fleet). */
function handleBatchEvent(event) {
  const mine = state.batches.get(event.batch_id);
  const section = state.sections.get(event.model) || (mine && state.sections.get(mine.model));
  if (!section) return;
  const box = section.querySelector(".batch");
  const bar = box.querySelector("progress");
  box.hidden = false;
  bar.max = Math.max(1, event.total);
  bar.value = event.done;
  const failed = event.app != null && !event.ok ? ` · app${event.app} failed${event.error ? `: ${event.error}` : ""}` : "";
  box.querySelector(".batch-text").textContent = `${event.action}: ${event.done}/${event.total}${failed}`;
  if (event.app == null && !BATCH_RUNNING.has(event.state)) {
    if (mine) mine.finish();
    else box.querySelector(".batch-text").textContent = `${event.action}: ${event.state.toLowerCase()}, ${event.done}/${event.total}${event.error ? ` · ${event.error}` : ""}`;
  }
}

// --- actions ------------------------------------------------------------------------------
function setBusy(entry, action, button = null, text = "") {
  const { card } = entry;
  entry.busy = action ? { action, mine: Boolean(button) } : null;
  if (!card) return;
  card.setAttribute("aria-busy", action ? "true" : "false");
  card.dataset.busy = action || "";
  for (const b of card.querySelectorAll(".actions button:not([data-action=logs])")) {
    b.disabled = Boolean(action);
    b.removeAttribute("aria-busy");
  }
  if (button) button.setAttribute("aria-busy", "true");
  if (action) setResult(entry, "busy", text || `${action} running…`);
}

function setResult(entry, kind, text) {
  entry.result = { kind, text };
  const el = entry.card?.querySelector(".result");
  if (!el) return;
  el.dataset.kind = kind;
  el.textContent = text;
}

async function runAction(key, action, button) {
  const entry = state.apps.get(key);
  if (!entry || entry.busy?.mine) return;
  const actionId = newId("ui-");
  setBusy(entry, action, button, `${action} running…`);
  entry.output = [];
  try {
    const result = await api(
      "POST",
      `/api/apps/${seg(entry.model)}/${seg(entry.spec.number)}/${seg(action)}`,
      { action_id: actionId },
    );
    const health = result.health?.seconds_to_healthy != null ? `, answering after ${formatDuration(result.health.seconds_to_healthy)}` : "";
    setResult(entry, "ok", `${action}: ok (${formatDuration(result.duration_s)}${health})`);
  } catch (err) {
    if (err.status === 401) return;
    const result = err.data;
    let text = describeError(err);
    if (result?.health?.reason && !text.includes(result.health.reason)) text += ` (${result.health.reason})`;
    setResult(entry, err.status === 409 && err.code === "busy" ? "busy-refused" : "error", `${action}: ${text}`);
    if (result?.output && !entry.output.length) {
      entry.output = result.output.trimEnd().split("\n").slice(-OUTPUT_LINES);
      renderOutput(entry);
    }
  } finally {
    if (entry.busy?.mine) {
      const { card } = entry;
      entry.busy = null;
      card.setAttribute("aria-busy", "false");
      card.dataset.busy = "";
      for (const b of card.querySelectorAll(".actions button")) {
        b.disabled = false;
        b.removeAttribute("aria-busy");
      }
    }
  }
}

const BATCH_POLL_MS = 10_000; // should the event socket miss the batch's end

/** A batch answers at once (202, QUEUED); its progress and its end arrive as `batch` events,
 * then its result is read by id. */
async function runBatch(model, action, button) {
  const section = state.sections.get(model);
  const buttons = section.querySelectorAll(".model-actions button");
  const batchId = newId("ui-");
  buttons.forEach((b) => {
    b.disabled = true;
  });
  button.setAttribute("aria-busy", "true");
  const box = section.querySelector(".batch");
  const text = box.querySelector(".batch-text");
  const bar = box.querySelector("progress");
  box.hidden = false;
  box.dataset.kind = "busy";
  bar.removeAttribute("value"); // indeterminate until the first batch event
  text.textContent = `${action} all…`;
  let over = false;
  let poll = null;
  const release = () => {
    over = true;
    clearInterval(poll);
    state.batches.delete(batchId);
    buttons.forEach((b) => {
      b.disabled = false;
      b.removeAttribute("aria-busy");
    });
  };
  const showError = (err) => {
    box.dataset.kind = "error";
    bar.value = 0;
    text.textContent = `${action} all: ${describeError(err)}`;
  };
  const finish = async () => {
    if (over) return;
    let batch;
    try {
      batch = await api("GET", `/api/batches/${seg(batchId)}`);
    } catch (err) {
      if (err.status === 401) return;
      showError(err);
      release();
      return;
    }
    if (over || BATCH_RUNNING.has(batch.state)) return;
    release();
    bar.max = Math.max(1, batch.total);
    bar.value = batch.done;
    const failed = batch.failed.length ? ` · failed: ${batch.failed.join(", ")}` : "";
    const took = batch.started_at != null && batch.ended_at != null ? ` (${formatDuration(batch.ended_at - batch.started_at)})` : "";
    const end = batch.state === "COMPLETE" ? "" : ` · ${batch.state.toLowerCase()}${batch.error ? `: ${batch.error}` : ""}`;
    box.dataset.kind = batch.failed.length || batch.state !== "COMPLETE" ? "error" : "ok";
    text.textContent = `${action} all: ${batch.succeeded.length} ok${failed}${end}${took}`;
  };
  state.batches.set(batchId, { model, action, finish });
  try {
    await api("POST", `/api/models/${seg(model)}/${seg(action)}`, { batch_id: batchId });
    poll = setInterval(finish, BATCH_POLL_MS);
  } catch (err) {
    if (err.status !== 401) showError(err);
    release();
  }
}

function openLogs(key) {
  const entry = state.apps.get(key);
  if (!entry) return;
  const services = (entry.spec.services || []).map((s) => s.name);
  logView.open(entry.model, entry.spec.number, services);
}

// --- scans, load tests, analyses -----------------------------------------------------------
/** The hash route: #app/<model>/<n> shows that app's card alone, #scan/<model>/<n>[/<scan id>]
 * its scans, #perf/<model>/<n>[/<test id>] its load tests, #analysis/<model>/<n>[/<analysis
 * id>] its requirements analyses, #spectest/<model>/<n>[/<run id>] its spec tests, #campaigns/[<id>[/compare]] the campaigns, anything else the
 * fleet (as cards or as the table). */
function route() {
  const campaign = /^#campaigns(?:\/([A-Za-z0-9]{1,64})?(?:\/(compare))?)?\/?$/.exec(location.hash);
  if (campaign) campaignView.open(campaign[1] || "", campaign[2] === "compare");
  else campaignView.close();
  for (const link of document.querySelectorAll("#topnav a")) {
    link.setAttribute("aria-current", (link.dataset.testid === "nav-campaigns") === Boolean(campaign) ? "page" : "false");
  }
  const match = /^#(app|scan|perf|analysis|spectest)\/([^/]+)\/(\d+)(?:\/([A-Za-z0-9]{1,64}))?$/.exec(location.hash);
  let entry = null;
  if (match) {
    let model = "";
    try {
      model = decodeURIComponent(match[2]);
    } catch {
      model = "";
    }
    entry = state.apps.get(appKey(model, Number(match[3])));
  }
  const view = match?.[1];
  if (entry && view === "scan") scanView.open(entry.model, entry.spec.number, match[4] || "");
  else scanView.close();
  if (entry && view === "perf") perfView.open(entry.model, entry.spec.number, match[4] || "");
  else perfView.close();
  if (entry && view === "analysis") analysisView.open(entry.model, entry.spec.number, match[4] || "");
  else analysisView.close();
  if (entry && view === "spectest") spectestView.open(entry.model, entry.spec.number, match[4] || "");
  else spectestView.close();
  if (entry && view === "app") showFleet("app", appKey(entry.model, entry.spec.number));
  else showFleet(entry || campaign ? "none" : "fleet");
  if (match && !entry) showBanner(`No app ${match[2]}/app${match[3]} in this fleet.`);
}

window.addEventListener("hashchange", () => {
  if (!$("#dashboard").hidden) route();
});

function scanAppInfo(model, number) {
  const spec = state.models.find((m) => m.name === model);
  const status = state.apps.get(appKey(model, number))?.status;
  return {
    color: safeColor(spec?.color),
    title: spec?.display_name || model,
    running: status ? status.state === "running" : null,
  };
}

async function runCardScan(key, button) {
  const entry = state.apps.get(key);
  if (!entry) return;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    const status = await api("POST", "/api/scans", { model: entry.model, app: entry.spec.number });
    setResult(entry, "ok", `scan ${status.scan_id} started (${status.tools.length} tools)`);
    latestJobs.show("scan", status, true);
  } catch (err) {
    if (err.status === 401) return;
    const text = err.status === 409 ? "a scan of this app is already running" : describeError(err);
    setResult(entry, err.status === 409 ? "busy-refused" : "error", `scan: ${text}`);
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

// for tests and the console: drop the event socket as a network failure would
window.genfleet = { events, state, logView, scanView, perfView, analysisView, spectestView, campaignView, latestJobs, fleetTable };

boot();
