// The latest job of each kind (security scan, load test, requirements analysis) per app:
// loaded once when the page opens (GET .../latest, one fleet-wide request per kind), then kept
// current by that kind's events. The fleet cards show each as a line linking to it; the fleet
// table (fleettable.js) as a column.

import { api, describeError, seg } from "./api.js";
import { h } from "./dom.js";
import { analysisHash } from "./analyses.js";
import { perfHash } from "./perf.js";
import { isDone, stateText } from "./scans.js";
import { appKey } from "./status.js";

export const scanHash = (model, number) => `#scan/${seg(model)}/${number}`;

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const round = (v) => (Number.isFinite(v) ? String(Math.round(v)) : "–");

/** The share of failed requests; never rounds a failure down to a clean-looking 0. */
function failedShare(failures, requests) {
  if (!failures) return "0%";
  const pct = (100 * failures) / requests;
  return pct < 0.1 ? "<0.1%" : `${pct < 10 ? pct.toFixed(1) : Math.round(pct)}%`;
}

// A job's outcome without its noun ("COMPLETE · 2 high"): the card's line puts the noun
// before it ("scan COMPLETE · 2 high"), the table's column header names it.
function scanOutcome(s) {
  let text = stateText(s);
  if (!isDone(s.state)) return `${text} · ${s.progress ?? 0} %`;
  if (s.state !== "COMPLETE") return s.error ? `${text}: ${s.error}` : text;
  const c = s.counts || {};
  const found = ["high", "medium", "low", "info"].filter((r) => c[r]).map((r) => `${c[r]} ${r}`);
  text += found.length ? ` · ${found.join(", ")}` : " · no findings";
  const blind = Object.values(s.tool_status || {}).filter((v) => v === "failed" || v === "unavailable").length;
  if (blind) text += ` · ${plural(blind, "tool")} could not check`;
  return text;
}

function perfOutcome(s) {
  const text = s.state;
  if (s.state === "QUEUED") return text;
  if (s.state === "RUNNING") {
    const last = s.last;
    return last ? `${text} · ${plural(last.users, "user")} · ${round(last.rps)} RPS` : text;
  }
  // FAILED/ERROR say why, even when some stats were kept: they are not a result
  if (s.state !== "COMPLETE" && s.state !== "STOPPED") return s.error ? `${text}: ${s.error}` : text;
  const t = s.summary;
  if (!t) return `${text} · no stats`;
  return `${text} · ${round(t.rps)} RPS · p95 ${round(t.p95_ms)} ms · ${failedShare(t.failures, t.requests)} failed`;
}

function analysisOutcome(s) {
  const c = s.counts || {};
  const extra = [c.failed ? `${c.failed} failed` : "", c.unavailable ? `${c.unavailable} unavailable` : ""];
  if (s.state === "COMPLETE") return [`${c.met}/${c.total} met`, ...extra].filter(Boolean).join(" · ");
  if (s.state === "QUEUED" || s.state === "RUNNING") return `${s.state} · ${c.done ?? 0}/${c.total} checked`;
  if (s.state === "STOPPED") return [`${s.state} · ${c.done ?? 0}/${c.total} checked, ${c.met} met`, ...extra].filter(Boolean).join(" · ");
  return s.error ? `${s.state}: ${s.error}` : s.state; // UNAVAILABLE, FAILED, ERROR: no verdicts to show
}

// What a finished job weighs when the table sorts by its column (higher first when descending);
// a job without a result (running, failed, unavailable) weighs less than any result.
function scanWeight(s) {
  if (s.state !== "COMPLETE") return -1;
  const c = s.counts || {};
  return (c.high || 0) * 1e9 + (c.medium || 0) * 1e6 + (c.low || 0) * 1e3 + (c.info || 0);
}

const perfWeight = (s) => ((s.state === "COMPLETE" || s.state === "STOPPED") && Number.isFinite(s.summary?.rps) ? s.summary.rps : -1);

const analysisWeight = (s) => (s.state === "COMPLETE" && s.counts?.total ? s.counts.met / s.counts.total : -1);

/** kind: the event kind; noun: its name on a card's line; title: its table column; latest: its
 * route and the reply's field; id: the status's id field. */
export const JOBS = [
  { kind: "scan", noun: "scan", title: "Scan", latest: "/api/scans/latest", field: "scans", id: "scan_id", hash: scanHash, outcome: scanOutcome, weight: scanWeight },
  { kind: "perf", noun: "load test", title: "Load test", latest: "/api/perf/latest", field: "tests", id: "test_id", hash: perfHash, outcome: perfOutcome, weight: perfWeight },
  { kind: "analysis", noun: "requirements", title: "Requirements", latest: "/api/analyses/latest", field: "analyses", id: "analysis_id", hash: analysisHash, outcome: analysisOutcome, weight: analysisWeight },
];

/** The link to a job's own view: #scan/<model>/<n>/<id> and the like. */
export const jobHref = (job, status) => `${job.hash(status.model, status.app)}/${seg(status[job.id])}`;

/** Each app's latest job of each kind, as far as this page knows; `onChange` tells the views. */
export class LatestJobs {
  /** @param {{events: import("./live.js").EventStream}} options */
  constructor({ events }) {
    this.shown = new Map(); // "<kind> <model>/app<n>" -> the status shown
    this.listeners = new Set();
    for (const job of JOBS) events.on(job.kind, (event) => this.show(job.kind, event.status));
  }

  /** Calls `fn(job, status)` whenever an app's latest job of a kind changes. */
  onChange(fn) {
    this.listeners.add(fn);
  }

  /** The app's latest job of `kind` shown so far, or null. */
  get(kind, model, number) {
    return this.shown.get(`${kind} ${appKey(model, number)}`) ?? null;
  }

  /** A new fleet on the page: nothing shown yet. */
  clear() {
    this.shown.clear();
  }

  /** Take `status` as its app's latest of that kind. `fromReply`: from an HTTP answer, which
   * may be older than the events already shown (a start's answer, the page's first load). */
  show(kind, status, fromReply = false) {
    const job = JOBS.find((j) => j.kind === kind);
    if (!job || !status) return;
    const key = `${kind} ${appKey(status.model, status.app)}`;
    const shown = this.shown.get(key);
    if (fromReply && shown) {
      if (shown[job.id] === status[job.id]) return; // the events of that job are newer
      // a job not started yet (no started_at) is the newest
      if ((shown.started_at ?? Infinity) > (status.started_at ?? Infinity)) return;
    }
    this.shown.set(key, status);
    for (const fn of this.listeners) fn(job, status);
  }

  /** Every app's latest jobs, once (one request per kind): the events keep them current. */
  async loadLatest() {
    await Promise.all(JOBS.map(async (job) => {
      try {
        const reply = await api("GET", job.latest);
        for (const status of Object.values(reply[job.field])) this.show(job.kind, status, true);
      } catch (err) {
        // that service is not running (yet): nothing to show, as before its first job
        console.info(`latest ${job.kind} jobs not loaded:`, describeError(err));
      }
    }));
  }
}

/** A new card's (hidden) lines, one per kind of job. */
export function jobLines() {
  return h(
    "div",
    { class: "job-lines" },
    JOBS.map((job) => h("span", { class: "job-line", dataset: { job: job.kind, testid: `card-${job.kind}` }, hidden: true, role: "status" })),
  );
}

/** Show a job's status on its card's line: "scan COMPLETE · 2 high", linking to it. */
export function showJobLine(card, job, status) {
  const line = card.querySelector(`.job-line[data-job="${job.kind}"]`);
  if (!line) return;
  line.replaceChildren(h("a", { href: jobHref(job, status) }, `${job.noun} ${job.outcome(status)}`));
  line.dataset.state = status.state;
  line.hidden = false;
}
