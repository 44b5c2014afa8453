// Why an install step failed, in words a user can act on, read from the step's last output lines.
// Pure: no vscode import.

const CAUSES: [RegExp, string][] = [
  [/No space left on device|\[Errno 28\]|ENOSPC/i, "the disk is full"],
  [
    /Failed to establish a new connection|Temporary failure in name resolution|Name or service not known|nodename nor servname|Network is unreachable|NewConnectionError|ConnectTimeoutError|ReadTimeoutError|ProxyError|getaddrinfo failed/i,
    "pip could not reach the package index (no network, or a proxy in the way)",
  ],
  [
    /ensurepip is not available|No module named (venv|ensurepip)|python3(\.\d+)?-venv/i,
    "this Python cannot make virtual environments (on Debian or Ubuntu: sudo apt install python3-venv)",
  ],
  [/No matching distribution found for (\S+)/i, "pip could not find $1 (no network, or not on the package index)"],
];

/** The cause, or a plain "exited with code N" when the output says nothing recognisable. */
export function explainFailure(tail: string[], exitCode: number | null): string {
  const text = tail.join("\n");
  for (const [pattern, cause] of CAUSES) {
    const m = pattern.exec(text);
    if (m) {
      return cause.replace("$1", m[1] ?? "");
    }
  }
  return exitCode === null ? "it was stopped" : `it exited with code ${exitCode}`;
}
