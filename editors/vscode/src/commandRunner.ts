// Running one install command: its output line by line, stopped by an AbortSignal. Pure: no vscode import.
import { spawn } from "node:child_process";

export interface RunOptions {
  onLine(line: string): void;
  signal?: AbortSignal;
  cwd?: string;
}

/** Resolves with the exit code (null when killed); rejects when the command cannot start (ENOENT). */
export type CommandRunner = (command: string[], options: RunOptions) => Promise<number | null>;

export const spawnRunner: CommandRunner = (command, { onLine, signal, cwd }) =>
  new Promise((resolve, reject) => {
    // The extension host's environment passes through: pip's PIP_* variables and proxies apply.
    const child = spawn(command[0], command.slice(1), {
      env: { ...process.env, PYTHONUNBUFFERED: "1", PYTHONIOENCODING: "utf-8" },
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
      signal,
      windowsHide: true,
    });
    for (const stream of [child.stdout, child.stderr]) {
      let partial = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        const lines = (partial + chunk).split(/\r?\n|\r/);
        partial = lines.pop() ?? "";
        lines.filter((l) => l.trim() !== "").forEach(onLine);
      });
      stream.on("end", () => partial.trim() !== "" && onLine(partial));
    }
    child.on("error", (e) => ((e as Error).name === "AbortError" ? undefined : reject(e)));
    child.on("close", (code) => resolve(signal?.aborted ? null : code));
  });
