// Triage in the scan view: the report's figures raw and triaged, each finding's mark, and
// the LLM's suggestion beside it. An operator marks a finding (false positive, accepted risk
// with an expiry, confirmed; this app or fleet-wide), removes the mark, or asks the LLM; a
// suggestion is shown as such and never becomes a mark by itself.

import { api, describeError, seg } from "./api.js";
import { h } from "./dom.js";

const RISKS = ["high", "medium", "low", "info"];
export const STATES = {
  false_positive: "false positive",
  accepted_risk: "accepted risk",
  confirmed: "confirmed",
};

const countsText = (c) => RISKS.map((r) => `${r} ${c?.[r] ?? 0}`).join(", ");

/** "raw: high 2, ... · triaged: high 1, ..." (triaged absent: the marks could not be read). */
export function figuresText(report) {
  const raw = `raw: ${countsText(report.status?.counts)}`;
  return report.triaged
    ? `${raw} · triaged (without false positives and unexpired accepted risks): ${countsText(report.triaged)}`
    : `${raw} · triaged: not available`;
}

function markText(applied) {
  const m = applied.mark;
  const where = m.scope === "fleet" ? "fleet-wide" : "this app";
  const when = new Date(m.at * 1000).toISOString().slice(0, 10);
  const expiry = m.expires ? `, until ${m.expires}` : "";
  return `${STATES[m.state] || m.state} (${where}) by ${m.by || "?"} on ${when}${expiry}`;
}

function suggestionView(s) {
  if (!s) return null;
  if (s.status !== "suggestion") {
    // nothing usable is said so: never shown as a verdict
    return h("div", { class: "suggestion none", dataset: { testid: "suggestion", status: s.status } },
      `AI suggestion: none (${s.status}): ${s.error}`);
  }
  return h(
    "div",
    { class: "suggestion", dataset: { testid: "suggestion", status: s.status, verdict: s.verdict } },
    h("strong", {}, `AI suggests ${s.verdict.replace("_", " ")}`),
    h("span", { class: "muted" }, ` (${s.llm_id}; a suggestion, not a mark)`),
    s.reason ? h("div", {}, `Reason: ${s.reason}`) : null,
    s.fix ? h("div", {}, `Fix: ${s.fix}`) : null,
  );
}

/**
 * The triage cell of one finding.
 * @param {object} f the finding (with `triage` and `suggestion` as the report was read)
 * @param {{model: string, number: number, canMark: boolean, changed: () => void}} ctx
 */
export function triageCell(f, ctx) {
  const cell = h("td", { class: "triage", dataset: { testid: "triage" } });
  const status = h("div", { class: "triage-status muted", role: "status" });
  const applied = f.triage;
  if (applied) {
    cell.append(
      h(
        "div",
        { class: "mark", dataset: { testid: "mark", state: applied.mark.state, applies: String(applied.applies) } },
        markText(applied),
        applied.mark.note ? h("div", { class: "note" }, applied.mark.note) : null,
        applied.why ? h("div", { class: "why warn" }, applied.why) : null,
      ),
    );
  }
  const shown = suggestionView(f.suggestion);
  if (shown) cell.append(shown);
  if (!ctx.canMark || !f.fingerprint) return cell;

  const state = h("select", { "aria-label": "Mark as", dataset: { testid: "mark-state" } },
    ...Object.entries(STATES).map(([v, label]) => h("option", { value: v }, label)));
  const expires = h("input", { type: "date", "aria-label": "Accepted until", dataset: { testid: "mark-expires" }, hidden: true });
  const note = h("input", { type: "text", placeholder: "note", "aria-label": "Note", maxlength: "2000", dataset: { testid: "mark-note" } });
  const fleet = h("input", { type: "checkbox", dataset: { testid: "mark-fleet" } });
  state.addEventListener("change", () => {
    expires.hidden = state.value !== "accepted_risk";
  });
  const run = async (button, work) => {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      await work();
      ctx.changed();
    } catch (err) {
      status.textContent = describeError(err);
      status.dataset.kind = "error";
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  };
  const save = h("button", { type: "button", class: "small", dataset: { testid: "mark-save" } }, "Mark");
  save.addEventListener("click", () =>
    run(save, () =>
      api("POST", "/api/triage/marks", {
        fingerprint: f.fingerprint,
        state: state.value,
        scope: fleet.checked ? "fleet" : "app",
        model: fleet.checked ? null : ctx.model,
        app: fleet.checked ? null : ctx.number,
        note: note.value,
        expires: state.value === "accepted_risk" ? expires.value || null : null,
      }),
    ),
  );
  const controls = [state, expires, note, h("label", { class: "inline" }, fleet, " fleet-wide"), save];
  if (applied) {
    const remove = h("button", { type: "button", class: "small outline", dataset: { testid: "mark-remove" } }, "Unmark");
    const m = applied.mark;
    const query = m.scope === "fleet" ? "" : `?model=${seg(m.model)}&app=${seg(m.app)}`;
    remove.addEventListener("click", () =>
      run(remove, () => api("DELETE", `/api/triage/marks/${seg(f.fingerprint)}${query}`)),
    );
    controls.push(remove);
  }
  const ask = h("button", { type: "button", class: "small outline", dataset: { testid: "suggest" } }, "Ask the AI");
  ask.addEventListener("click", () => {
    status.textContent = "asking the LLM (the local model can take a minute)…";
    status.dataset.kind = "";
    run(ask, () =>
      api("POST", `/api/apps/${seg(ctx.model)}/${seg(ctx.number)}/findings/${seg(f.fingerprint)}/suggestion`),
    );
  });
  controls.push(ask);
  cell.append(h("div", { class: "mark-form", role: "group", "aria-label": "Triage this finding" }, ...controls), status);
  return cell;
}
