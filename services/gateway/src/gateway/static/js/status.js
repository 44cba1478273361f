// App status as the dashboard shows it, and how a StatusEvent changes it.
//
// "Healthy" means answering (AppStatus version 2): a Docker health check where a service has
// one, else its published ports answer HTTP. A container's `answer` says which: none (nothing
// to check), checking (not answering yet), answering, not_answering (with a `diagnosis`).

/** A container's answer; from its Docker health check for a sender of version 1. */
export function answerOf(c) {
  if (c.answer) return c.answer;
  if (!c.running) return "none";
  return { healthy: "answering", unhealthy: "not_answering", starting: "checking" }[c.health] || "none";
}

/** Whether an app answers, as one word of the API's `answer` vocabulary: "answering",
 * "checking" (not answering yet), "not_answering", or "none" (nothing to check: stopped, or no
 * answer known). */
export function answeringOf(status) {
  if (!status || status.state === "stopped") return "none";
  if (status.healthy === true) return "answering";
  if (status.healthy !== false) return "none";
  const answers = (status.containers || []).map(answerOf);
  if (answers.includes("not_answering")) return "not_answering";
  return answers.includes("checking") ? "checking" : "not_answering";
}

/** How each answer is said: in the badge, the fleet table and the CLI alike. */
export const ANSWERING_TEXT = {
  answering: "answering",
  checking: "not answering yet",
  not_answering: "not answering",
  none: "–",
};

const BADGE_HEALTH = { answering: "healthy", checking: "starting", not_answering: "unhealthy" };

/**
 * The badge's state and label for an AppStatus: "stopped"; "running-healthy" (answering),
 * "running-starting" (not answering yet), "running-unhealthy" (not answering), "running"
 * (nothing to check); the same for "partial".
 */
export function badgeOf(status) {
  if (!status) return { state: "unknown", label: "unknown" };
  const state = status.state;
  if (state === "stopped") return { state: "stopped", label: "stopped" };
  const answering = answeringOf(status);
  const health = BADGE_HEALTH[answering];
  return health
    ? { state: `${state}-${health}`, label: `${state} · ${ANSWERING_TEXT[answering]}` }
    : { state, label: state };
}

/** Why the app does not answer, one line per service: "backend: listens on port 8000 ...". */
export function diagnosisOf(status) {
  const found = [];
  for (const c of status?.containers || []) {
    const d = c.diagnosis;
    if (!d) continue;
    const crashed = d.kind === "crash_loop" || d.kind === "exited";
    if (!c.running && !crashed) continue; // what a stopped service did before it stopped
    found.push({ service: c.service, kind: d.kind, text: `${c.service}: ${d.summary}`, logs: d.logs || [] });
  }
  return found;
}

/** The text for one container: "running · answering", "exited with code 1", "not created". */
export function containerText(c) {
  if (!c.exists) return "not created";
  if (!c.running) {
    let text = c.details || c.status || "stopped";
    if (!c.details && c.exit_code !== null && c.exit_code !== undefined) text += ` (exit ${c.exit_code})`;
    return text;
  }
  const answer = answerOf(c);
  let text = c.status || "running";
  if (answer === "answering") text += " · answering";
  else if (answer === "checking") text += " · not answering yet";
  else if (answer === "not_answering") text += " · not answering";
  if (c.restart_count) text += ` · ${c.restart_count} restart${c.restart_count === 1 ? "" : "s"}`;
  return text;
}

export function containerClass(c) {
  if (!c.exists || !c.running) return answerOf(c) === "not_answering" ? "bad" : "off";
  const answer = answerOf(c);
  if (answer === "not_answering") return "bad";
  if (answer === "checking") return "wait";
  return "ok";
}

/**
 * A new AppStatus with the event applied: the event carries the full state of one
 * container and the app's state and health after the change.
 */
export function applyStatusEvent(status, event) {
  const base = status || { model: event.model, app: event.app, containers: [] };
  const containers = [...(base.containers || [])];
  const i = containers.findIndex((c) => c.service === event.container.service);
  if (i >= 0) containers[i] = event.container;
  else containers.push(event.container);
  return { ...base, state: event.app_state, healthy: event.healthy, containers };
}

export const appKey = (model, number) => `${model}/app${number}`;
