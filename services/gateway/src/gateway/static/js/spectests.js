// The spec tests view (#spectest/<model>/<n>[/<run id>]): an app's runs of the fleet's
// executable checks for its spec, a form to start one, the selected run live from `spectest`
// events, its checks (functional or security; pass, fail, error, flaky, with the request, the
// response excerpt and the reason), the app's verdict, and pass@1 / sec_pass@1 per model with
// their denominators. "error" (could not run) is shown apart, never as a failure.

import { api, describeError, seg } from "./api.js";
import { $, h } from "./dom.js";

const DONE = new Set(["COMPLETE", "UNAVAILABLE", "FAILED", "ERROR", "STOPPED"]);
const VERDICTS = {
  secure: "correct and secure",
  insecure: "correct, but insecure",
  incorrect: "incorrect",
  exception: "no verdict (a check could not run)",
};

export const spectestHash = (model, number) => `#spectest/${seg(model)}/${number}`;

const share = (value) => (value === null || value === undefined ? "–" : value.toFixed(2));

function counts(c) {
  return `${c.passed}/${c.total} passed · ${c.failed} failed · ${c.errors} could not run · ${c.flaky} flaky`;
}

function checkRow(check) {
  const tries = check.attempts.length > 1 ? ` (${check.attempts.join(", ")})` : "";
  return h("tr", { dataset: { check: check.name, outcome: check.outcome } },
    h("td", {}, check.name, h("div", { class: "muted" }, check.file)),
    h("td", {}, check.kind),
    h("td", {}, h("span", { class: `outcome ${check.outcome}`, dataset: { testid: "outcome" } }, check.outcome + tries)),
    h("td", {},
      check.reason ? h("p", {}, check.reason) : null,
      check.stage ? h("p", { class: "muted" }, `stage: ${check.stage}`) : null,
      check.request ? h("details", {}, h("summary", {}, "request and response"),
        h("pre", { class: "raw" }, `${check.request}\n\n${check.response}`)) : null));
}

export class SpecTestView {
  /**
   * @param {object} opts
   * @param {import("./live.js").EventStream} opts.events the event socket
   * @param {(model: string, number: number) => {color: string, title: string}} opts.appInfo
   */
  constructor({ events, appInfo }) {
    this.section = $("#spectestview");
    this.appInfo = appInfo;
    this.target = null;
    this.runs = new Map(); // run id -> SpecTestStatus
    this.checks = new Map(); // run id -> SpecCheck[] (once it ended)
    this.output = new Map(); // run id -> the runner's last lines
    this.selected = "";
    events.on("spectest", (event) => this.onEvent(event));
    events.on("open", () => {
      if (this.target) this.load().catch(() => {});
    });
    this.build();
  }

  build() {
    this.reruns = h("input", { type: "number", id: "spectest-reruns", min: 0, max: 10, value: 2, dataset: { testid: "spectest-reruns" } });
    this.formResult = h("p", { class: "result", role: "status", dataset: { testid: "spectest-form-result" } });
    this.history = h("ol", { dataset: { testid: "spectest-history" } });
    this.state = h("span", { class: "scan-state", dataset: { testid: "spectest-state" }, role: "status" });
    this.verdict = h("strong", { dataset: { testid: "spectest-verdict" } });
    this.counts = h("p", { dataset: { testid: "spectest-counts" } });
    this.error = h("p", { class: "scan-error", role: "alert", hidden: true });
    this.stop = h("button", { type: "button", class: "small secondary", hidden: true, dataset: { testid: "spectest-stop" },
      onclick: () => this.stopRun() }, "Stop");
    this.table = h("tbody", { dataset: { testid: "spectest-checks" } });
    this.runnerOutput = h("pre", { class: "raw", hidden: true, dataset: { testid: "spectest-output" } });
    this.summary = h("tbody", { dataset: { testid: "spectest-summary" } });
    this.title = h("h2", {}, "Spec tests");
    this.section.append(
      h("header", { class: "scan-head" }, h("a", { href: "#", class: "back" }, "← Fleet"), this.title),
      h("div", { class: "scan-layout" },
        h("aside", { class: "scan-side" },
          h("form", { dataset: { testid: "spectest-form" }, onsubmit: (e) => { e.preventDefault(); this.start(); } },
            h("h3", {}, "Run the spec tests"),
            h("label", { for: "spectest-reruns" }, "Re-runs of a check that did not pass"), this.reruns,
            h("button", { type: "submit", class: "small", dataset: { testid: "spectest-start" } }, "Run spec tests"),
            this.formResult),
          h("h3", {}, "History"), this.history),
        h("div", { class: "scan-main" },
          h("header", { class: "detail-head" }, this.state, this.verdict, this.stop),
          this.error,
          this.counts,
          h("table", { class: "analysis-table" },
            h("thead", {}, h("tr", {}, h("th", {}, "Check"), h("th", {}, "Kind"), h("th", {}, "Outcome"),
              h("th", {}, "Reason, request and response"))),
            this.table),
          this.runnerOutput,
          h("h3", {}, "Per model"),
          h("p", { class: "muted" }, "From each app's newest run with a verdict. pass@1: correct apps over apps with a verdict;"
            + " sec_pass@1: correct and secure over the same; apps whose checks could not run are exceptions, apart."),
          h("table", { class: "analysis-table" },
            h("thead", {}, h("tr", {}, h("th", {}, "Model"), h("th", {}, "Apps with a verdict"), h("th", {}, "pass@1"),
              h("th", {}, "sec_pass@1"), h("th", {}, "Insecure of correct"), h("th", {}, "Exceptions"))),
            this.summary))),
    );
  }

  get isOpen() {
    return this.target !== null;
  }

  open(model, number, runId = "") {
    const same = this.target && this.target.model === model && this.target.number === number;
    this.target = { model, number };
    if (!same) {
      this.runs = new Map();
      const info = this.appInfo(model, number);
      this.section.style.setProperty("--model-color", info.color);
      this.title.textContent = `Spec tests: ${info.title} · app${number}`;
      this.formResult.textContent = "";
    }
    this.selected = runId;
    this.section.hidden = false;
    this.load().catch((err) => { this.formResult.textContent = describeError(err); });
  }

  close() {
    this.target = null;
    this.section.hidden = true;
  }

  async load() {
    const { model, number } = this.target;
    const { tests } = await api("GET", `/api/apps/${seg(model)}/${number}/spectests`);
    for (const t of tests) this.runs.set(t.spectest_id, t);
    if (!this.selected && tests.length) this.selected = tests[0].spectest_id;
    this.renderHistory();
    if (this.selected) await this.loadResult(this.selected);
    else this.renderDetail();
    await this.loadSummary();
  }

  async loadResult(id) {
    const status = this.runs.get(id);
    if (status && !DONE.has(status.state)) {
      this.renderDetail(); // its checks come with its end
      return;
    }
    try {
      const result = await api("GET", `/api/spectests/${seg(id)}/result`);
      this.runs.set(id, result.status);
      this.checks.set(id, result.checks);
      this.output.set(id, result.output);
    } catch (err) {
      if (err.status !== 404) throw err; // 404: still running
    }
    this.renderDetail();
  }

  async loadSummary() {
    const { models } = await api("GET", `/api/spectests/summary`);
    this.summary.replaceChildren(...models.map((m) => h("tr", { dataset: { model: m.model } },
      h("td", {}, m.model),
      h("td", {}, `${m.judged} of ${m.apps}`),
      h("td", {}, `${share(m.pass_at_1)} (${m.correct}/${m.judged})`),
      h("td", {}, `${share(m.sec_pass_at_1)} (${m.secure}/${m.judged})`),
      h("td", {}, `${share(m.insecure_share_of_correct)} (${m.correct - m.secure}/${m.correct})`),
      h("td", {}, `${m.exceptions} of ${m.apps}`))));
  }

  onEvent(event) {
    const s = event.status;
    if (!this.target || s.model !== this.target.model || s.app !== this.target.number) return;
    this.runs.set(s.spectest_id, s);
    if (!this.selected) this.selected = s.spectest_id;
    this.renderHistory();
    if (s.spectest_id !== this.selected) return;
    if (DONE.has(s.state)) {
      this.loadResult(s.spectest_id).catch(() => {});
      this.loadSummary().catch(() => {});
    } else {
      this.renderDetail();
    }
  }

  renderHistory() {
    const list = [...this.runs.values()].sort((a, b) => (b.started_at ?? 0) - (a.started_at ?? 0));
    this.history.replaceChildren(...list.map((t) => h("li", { class: t.spectest_id === this.selected ? "selected" : "" },
      h("a", { href: `${spectestHash(t.model, t.app)}/${seg(t.spectest_id)}` },
        `${t.state}${t.verdict ? ` · ${t.verdict}` : ""} · ${t.functional.passed + t.security.passed}/${t.functional.total + t.security.total} passed`))));
  }

  renderDetail() {
    const s = this.runs.get(this.selected);
    if (!s) {
      this.state.textContent = "No spec test run of this app yet: start one.";
      this.verdict.textContent = "";
      this.counts.textContent = "";
      this.table.replaceChildren();
      this.runnerOutput.hidden = true;
      return;
    }
    this.state.textContent = s.state;
    this.state.dataset.state = s.state;
    this.verdict.textContent = s.verdict ? VERDICTS[s.verdict] || s.verdict : "";
    this.verdict.dataset.verdict = s.verdict || "";
    this.counts.textContent = `Functional: ${counts(s.functional)}. Security: ${counts(s.security)}.`
      + (s.backend_url ? ` Against ${s.backend_url}${s.frontend_url ? ` and ${s.frontend_url}` : ""}.` : "");
    this.error.hidden = !s.error;
    this.error.textContent = s.error || "";
    this.stop.hidden = DONE.has(s.state) || document.body.dataset.role === "viewer";
    this.table.replaceChildren(...(this.checks.get(s.spectest_id) || []).map(checkRow));
    const output = this.output.get(s.spectest_id) || "";
    this.runnerOutput.hidden = !output;
    this.runnerOutput.textContent = output;
  }

  async start() {
    const body = { model: this.target.model, app: this.target.number, reruns: Number(this.reruns.value) };
    try {
      const status = await api("POST", "/api/spectests", body);
      this.formResult.textContent = `spec test run ${status.spectest_id} queued (${status.files.length} files)`;
      this.runs.set(status.spectest_id, status);
      this.selected = status.spectest_id;
      this.renderHistory();
      this.renderDetail();
    } catch (err) {
      this.formResult.textContent = err.status === 409 ? "a spec test run of this app is already going" : describeError(err);
    }
  }

  async stopRun() {
    try {
      await api("POST", `/api/spectests/${seg(this.selected)}/stop`);
    } catch (err) {
      this.formResult.textContent = describeError(err);
    }
  }
}
