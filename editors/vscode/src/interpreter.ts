// Finding a Python (>= 3.10) that can run heed. No vscode import: the editor-facing
// sources of candidates are passed in, so this is unit-testable.
import { execFile } from "node:child_process";

export const MIN_PYTHON: [number, number] = [3, 10];

export interface Candidate {
  command: string[]; // e.g. ["/venv/bin/python"] or ["py", "-3.11"]
  source: "setting" | "python extension" | "PATH";
}

export interface Probe {
  version: number[];
  executable: string;
  heed: string | null; // installed heed version, null when not importable
}

// Prints what we need to know in one run; does not import heed (that may load torch).
export const PROBE_SCRIPT = [
  "import importlib.util, json, sys",
  "heed = None",
  "if importlib.util.find_spec('heed') is not None:",
  "    try:",
  "        from importlib.metadata import version; heed = version('heed')",
  "    except Exception:",
  "        heed = 'unknown'",
  "print(json.dumps({'version': list(sys.version_info[:3]), 'executable': sys.executable, 'heed': heed}))",
].join("\n");

export function parseProbe(stdout: string): Probe {
  const line = stdout.trim().split(/\r?\n/).pop() ?? "";
  const data = JSON.parse(line);
  if (!Array.isArray(data.version) || typeof data.executable !== "string") {
    throw new Error(`unexpected probe output: ${line}`);
  }
  return { version: data.version, executable: data.executable, heed: data.heed ?? null };
}

export function isSupported(version: number[]): boolean {
  const [major, minor] = version;
  return major > MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor >= MIN_PYTHON[1]);
}

/** Order of preference: the heed.interpreter setting alone if set, else the Python extension, else PATH. */
export function candidates(setting: string[], fromPythonExtension: string[] | undefined): Candidate[] {
  if (setting.length > 0) {
    return [{ command: setting, source: "setting" }];
  }
  const list: Candidate[] = [];
  if (fromPythonExtension && fromPythonExtension.length > 0) {
    list.push({ command: fromPythonExtension, source: "python extension" });
  }
  const pathNames = process.platform === "win32" ? ["python", "py"] : ["python3", "python"];
  for (const name of pathNames) {
    list.push({ command: [name], source: "PATH" });
  }
  return list;
}

export type Runner = (command: string[], script: string) => Promise<string>;

export const runPython: Runner = (command, script) =>
  new Promise((resolve, reject) => {
    execFile(command[0], [...command.slice(1), "-c", script], { timeout: 20000 }, (err, stdout, stderr) =>
      err ? reject(new Error(stderr.trim() || err.message)) : resolve(stdout),
    );
  });

export type Resolution =
  | { kind: "ok"; candidate: Candidate; probe: Probe }
  | { kind: "no-heed"; candidate: Candidate; probe: Probe }
  | { kind: "none"; problems: string[] };

/**
 * The first supported Python that has heed; else the first supported one (to offer an install);
 * else the reasons each candidate was refused.
 */
export async function resolveInterpreter(list: Candidate[], run: Runner = runPython): Promise<Resolution> {
  const problems: string[] = [];
  let withoutHeed: { candidate: Candidate; probe: Probe } | undefined;
  for (const candidate of list) {
    const label = `${candidate.command.join(" ")} (${candidate.source})`;
    let probe: Probe;
    try {
      probe = parseProbe(await run(candidate.command, PROBE_SCRIPT));
    } catch (e) {
      problems.push(`${label}: ${(e as Error).message}`);
      continue;
    }
    if (!isSupported(probe.version)) {
      problems.push(`${label}: Python ${probe.version.join(".")} is too old, heed needs ${MIN_PYTHON.join(".")}+`);
      continue;
    }
    if (probe.heed) {
      return { kind: "ok", candidate, probe };
    }
    withoutHeed ??= { candidate, probe };
  }
  return withoutHeed ? { kind: "no-heed", ...withoutHeed } : { kind: "none", problems };
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `"${arg.replace(/"/g, '\\"')}"`;
}

/** Commands that install heed for `python`; from a checkout when one is open. */
export function installCommands(python: string[], checkout?: string): string[] {
  const py = python.map(quote).join(" ");
  const cmds = [`${py} -m pip install heed`];
  if (checkout) {
    cmds.unshift(`${py} -m pip install ${quote(checkout)}`);
  }
  return cmds;
}
