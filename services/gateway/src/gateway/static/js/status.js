// App status as the dashboard shows it, and how a StatusEvent changes it.

/**
 * The badge's state and label for an AppStatus:
 * "stopped", "running-healthy", "running-starting", "running-unhealthy", "running" (no
 * health check), and the same for "partial".
 */
export function badgeOf(status) {
  if (!status) return { state: "unknown", label: "unknown" };
  const state = status.state;
  if (state === "stopped") return { state: "stopped", label: "stopped" };
  let health = null;
  if (status.healthy === true) health = "healthy";
  else if (status.healthy === false) {
    const running = (status.containers || []).filter((c) => c.running);
    if (running.some((c) => c.health === "unhealthy")) health = "unhealthy";
    else if (running.some((c) => c.health === "starting")) health = "starting";
    else health = "unhealthy";
  }
  return health
    ? { state: `${state}-${health}`, label: `${state} · ${health}` }
    : { state, label: state };
}

/** The text for one container: "running (healthy)", "exited with code 1", "missing". */
export function containerText(c) {
  if (!c.exists) return "not created";
  let text = c.status || (c.running ? "running" : "stopped");
  if (c.running && c.health && c.health !== "none") text += ` (${c.health})`;
  if (c.details && !c.running) text = c.details;
  else if (!c.running && c.exit_code !== null && c.exit_code !== undefined) {
    text += ` (exit ${c.exit_code})`;
  }
  return text;
}

export function containerClass(c) {
  if (!c.exists || !c.running) return "off";
  if (c.health === "unhealthy") return "bad";
  if (c.health === "starting") return "wait";
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
