// The fleet cards' job lines: for each kind of job (security scan, load test, requirements
// analysis) one line on an app's card sums up its latest, linking to it. Loaded once when the
// page opens (GET .../latest), then kept current by that kind's events.

import { api, describeError, seg } from "./api.js";
import { h } from "./dom.js";
import { analysisHash } from "./analyses.js";
import { perfHash } from "./perf.js";
import { isDone, stateText } from "./scans.js";

export const scanHash = (model, number) => `#scan/${seg(model)}/${number}`;

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const round = (v) => (Number.isFinite(v) ? String(Math.round(v)) : "–");

/** The share of failed requests; never rounds a failure down to a clean-looking 0. */
function failedShare(failures, requests) {
  if (!failures) return "0%";
  const pct = (100 * failures) / requests;
  return pct < 0.1 ? "<0.1%" : `${pct < 10 ? pct.toFixed(1) : Math.round(pct)}%`;
}

function scanText(s) {
  let text = `scan ${stateText(s)}`;
  if (!isDone(s.state)) return `${text} · ${s.progress ?? 0} %`;
  if (s.state !== "COMPLETE") return s.error ? `${text}: ${s.error}` : text;
  const c = s.counts || {};
  const found = ["high", "medium", "low", "info"].filter((r) => c[r]).map((r) => `${c[r]} ${r}`);
  text += found.length ? ` · ${found.join(", ")}` : " · no findings";
  const blind = Object.values(s.tool_status || {}).filter((v) => v === "failed" || v === "unavailable").length;
  if (blind) text += ` · ${plural(blind, "tool")} could not check`;
  return text;
}

function perfText(s) {
  const text = `load test ${s.state}`;
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

function analysisText(s) {
  const c = s.counts || {};
  const extra = [c.failed ? `${c.failed} failed` : "", c.unavailable ? `${c.unavailable} unavailable` : ""];
  if (s.state === "COMPLETE") return [`requirements ${c.met}/${c.total} met`, ...extra].filter(Boolean).join(" · ");
  const text = `requirements ${s.state}`;
  if (s.state === "QUEUED" || s.state === "RUNNING") return `${text} · ${c.done ?? 0}/${c.total} checked`;
  if (s.state === "STOPPED") return [`${text} · ${c.done ?? 0}/${c.total} checked, ${c.met} met`, ...extra].filter(Boolean).join(" · ");
  return s.error ? `${text}: ${s.error}` : text; // UNAVAILABLE, FAILED, ERROR: no verdicts to show
}

/** kind: the event kind; latest: its route and the reply's field; id: the status's id field. */
const JOBS = [
  { kind: "scan", latest: "/api/scans/latest", field: "scans", id: "scan_id", hash: scanHash, text: scanText },
  { kind: "perf", latest: "/api/perf/latest", field: "tests", id: "test_id", hash: perfHash, text: perfText },
  { kind: "analysis", latest: "/api/analyses/latest", field: "analyses", id: "analysis_id", hash: analysisHash, text: analysisText },
];

export class CardJobs {
  /**
   * @param {object} options
   * @param {import("./live.js").EventStream} options.events
   * @param {(model: string, number: number) => Element | null} options.cardOf
   */
  constructor({ events, cardOf }) {
    this.cardOf = cardOf;
    for (const job of JOBS) events.on(job.kind, (event) => this.show(job.kind, event.status));
  }

  /** A new card's (hidden) lines, one per kind of job. */
  lines() {
    return h(
      "div",
      { class: "job-lines" },
      JOBS.map((job) => h("span", { class: "job-line", dataset: { job: job.kind, testid: `card-${job.kind}` }, hidden: true, role: "status" })),
    );
  }

  /** Show `status` on its app's card. `fromReply`: from an HTTP answer, which may be older
   * than the events already shown (a start's answer, the page's first load). */
  show(kind, status, fromReply = false) {
    const job = JOBS.find((j) => j.kind === kind);
    const line = status && this.cardOf(status.model, status.app)?.querySelector(`.job-line[data-job="${kind}"]`);
    if (!job || !line) return;
    const shown = line.shown; // the status on the line now (kept on the element: a new card starts empty)
    if (fromReply && shown) {
      if (shown[job.id] === status[job.id]) return; // the events of that job are newer
      // a job not started yet (no started_at) is the newest
      if ((shown.started_at ?? Infinity) > (status.started_at ?? Infinity)) return;
    }
    line.shown = status;
    line.replaceChildren(h("a", { href: `${job.hash(status.model, status.app)}/${seg(status[job.id])}` }, job.text(status)));
    line.dataset.state = status.state;
    line.hidden = false;
  }

  /** Each card's latest jobs, once: the events keep them current from then on. */
  async loadLatest() {
    await Promise.all(JOBS.map(async (job) => {
      try {
        const reply = await api("GET", job.latest);
        for (const status of Object.values(reply[job.field])) this.show(job.kind, status, true);
      } catch (err) {
        // that service is not running (yet): no line, as before its first job
        console.info(`latest ${job.kind} jobs not loaded:`, describeError(err));
      }
    }));
  }
}
