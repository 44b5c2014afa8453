// Finding a Python (>= 3.10) that can run heed. No vscode import: the editor-facing
// sources of candidates are passed in, so this is unit-testable.
import { execFile } from "node:child_process";
import { compareVersions } from "./versions";

export const MIN_PYTHON: [number, number] = [3, 10];

export interface Candidate {
  command: string[]; // e.g. ["/venv/bin/python"] or ["py", "-3.11"]
  source: "setting" | "python extension" | "PATH" | "extension's venv";
}

export interface Probe {
  version: number[];
  executable: string;
  heed: string | null; // this heed's version (heed.__version__), null when not installed
  foreign?: string; // why a `heed` found there is not this one (an unrelated package, a broken install)
}

/** heed's distribution on the package index; `heed` there is an unrelated project. */
export const DISTRIBUTION = "heed-lsp";

// Prints what we need to know in one run. heed counts only when the heed-lsp distribution is
// installed AND its `heed` module imports with heed.cli and heed.__version__: an unrelated package
// that installs a `heed` module is never imported and never accepted. heed.cli is light (torch
// loads only in the subcommands that need it).
export const PROBE_SCRIPT = [
  "import importlib.util, json, sys",
  "from importlib.metadata import PackageNotFoundError, version",
  "heed, foreign = None, None",
  "try:",
  `    dist = version("${DISTRIBUTION}")`,
  "except PackageNotFoundError:",
  "    dist = None",
  "found = importlib.util.find_spec('heed') is not None",
  "if dist is None and found:",
  `    foreign = "its 'heed' module is not from ${DISTRIBUTION} (the package named 'heed' on PyPI is an unrelated project)"`,
  "elif dist is not None:",
  "    try:",
  "        import heed.cli as cli",
  "        v = getattr(sys.modules['heed'], '__version__', None)",
  "        if isinstance(v, str) and callable(getattr(cli, 'main', None)):",
  "            heed = v",
  "        else:",
  `            foreign = "${DISTRIBUTION} " + dist + " is installed, but its 'heed' module is another package's"`,
  "    except Exception as e:",
  `        foreign = "${DISTRIBUTION} " + dist + " is installed, but heed.cli does not import: " + repr(e)[:200]`,
  "print(json.dumps({'version': list(sys.version_info[:3]), 'executable': sys.executable, 'heed': heed, 'foreign': foreign}))",
].join("\n");

export function parseProbe(stdout: string): Probe {
  const line = stdout.trim().split(/\r?\n/).pop() ?? "";
  const data = JSON.parse(line);
  if (!Array.isArray(data.version) || typeof data.executable !== "string") {
    throw new Error(`unexpected probe output: ${line}`);
  }
  const probe: Probe = { version: data.version, executable: data.executable, heed: typeof data.heed === "string" ? data.heed : null };
  if (typeof data.foreign === "string") {
    probe.foreign = data.foreign;
  }
  return probe;
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
  | { kind: "no-heed"; candidate: Candidate; probe: Probe } // probe.heed: an older heed, or null
  | { kind: "none"; problems: string[] };

/**
 * The first supported Python that has heed (`minHeed` or newer, when given); else the first
 * supported one (to offer an install); else the reasons each candidate was refused.
 */
export async function resolveInterpreter(list: Candidate[], run: Runner = runPython, minHeed?: string): Promise<Resolution> {
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
    if (probe.heed && (!minHeed || compareVersions(probe.heed, minHeed) >= 0)) {
      return { kind: "ok", candidate, probe };
    }
    if (probe.heed) {
      problems.push(`${label}: heed ${probe.heed} is older than this extension's ${minHeed}`);
    }
    withoutHeed ??= { candidate, probe };
  }
  return withoutHeed ? { kind: "no-heed", ...withoutHeed } : { kind: "none", problems };
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `"${arg.replace(/"/g, '\\"')}"`;
}

/**
 * Commands that install heed for `python`, each one line (copyable as is): heed from the open
 * checkout when there is one, else the package index (no torch: the server completes without it,
 * and offers to install it when learning a project needs it).
 */
export function installCommands(python: string[], checkout?: string): string[] {
  const py = python.map(quote).join(" ");
  const cmds = [`${py} -m pip install ${DISTRIBUTION}`];
  if (checkout) {
    cmds.unshift(`${py} -m pip install ${quote(checkout)}`);
  }
  return cmds;
}
