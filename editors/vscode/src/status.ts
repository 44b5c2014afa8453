// What the status bar shows for each `heed/status` notification. Pure: no vscode import.

export interface StatusParams {
  state: "starting" | "loading" | "ready" | "fallback" | "error" | "stopped" | "installing"; // installing: the extension's own
  model?: string;
  message?: string;
}

export interface StatusView {
  text: string;
  tooltip: string;
  warning: boolean;
  error: boolean;
}

const ICONS: Record<StatusParams["state"], string> = {
  starting: "$(loading~spin)",
  installing: "$(loading~spin)",
  loading: "$(loading~spin)",
  ready: "$(check)",
  fallback: "$(warning)",
  error: "$(error)",
  stopped: "$(circle-slash)",
};

export function describeStatus(p: StatusParams): StatusView {
  const icon = ICONS[p.state] ?? "$(question)";
  const suffix = p.state === "ready" ? "" : ` ${p.state}`;
  const lines = [`heed: ${p.state}`];
  if (p.model) {
    lines.push(`model: ${p.model}`);
  }
  if (p.message) {
    lines.push(p.message);
  }
  lines.push("Click for the server log");
  return {
    text: `${icon} heed${suffix}`,
    tooltip: lines.join("\n"),
    warning: p.state === "fallback",
    error: p.state === "error",
  };
}
