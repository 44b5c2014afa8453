// Makes a new extension venv beside the one in use and switches to it only once heed imports and
// loads its model there; on any failure or cancel the new folder is removed. Pure: no vscode import.
import * as fs from "node:fs";
import * as path from "node:path";
import { CommandRunner } from "./commandRunner";
import { explainFailure } from "./installFailure";
import { installPlan, Step } from "./installPlan";
import { currentVenv, Stamp, switchCurrent, venvPython, venvsDir, writeStamp } from "./ownedVenv";

/** About what heed and its dependencies take once installed, with pip's download beside them (torch,
 * installed later if "Learn This Project" asks for it, needs about 1 GB more). */
export const NEEDED_BYTES = 0.5e9;

export interface InstallOptions {
  storage: string; // the extension's global storage folder
  basePython: string[];
  wheel?: string;
  extensionVersion: string;
  run: CommandRunner;
  /** Each step as it starts, then its latest output line. */
  progress(step: Step, detail?: string): void;
  /** Every command and every line of its output. */
  log(line: string): void;
  signal?: AbortSignal;
  platform?: NodeJS.Platform;
  freeBytes?(dir: string): number | undefined;
}

export interface Installed {
  venv: string;
  python: string;
  stamp: Stamp;
  previous?: string; // the venv in use before, to remove once no server runs from it
}

export class InstallError extends Error {
  constructor(
    readonly step: string,
    readonly reason: string,
    readonly tail: string[],
    readonly cancelled = false,
  ) {
    super(cancelled ? "the install was cancelled" : `${step}: ${reason}`);
  }
}

function statFree(dir: string): number | undefined {
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

/** A new folder name under venvs/: the extension version, and a clock reading to keep installs apart. */
function newVenvDir(storage: string, extensionVersion: string): string {
  const safe = extensionVersion.replace(/[^\w.-]/g, "_");
  return path.join(venvsDir(storage), `${safe}-${Date.now().toString(36)}`);
}

export async function installServer(o: InstallOptions): Promise<Installed> {
  fs.mkdirSync(venvsDir(o.storage), { recursive: true });
  const free = (o.freeBytes ?? statFree)(o.storage);
  if (free !== undefined && free < NEEDED_BYTES) {
    const gb = (n: number) => (n / 1e9).toFixed(1);
    throw new InstallError("Checking disk space", `only ${gb(free)} GB free in ${o.storage}; heed needs about ${gb(NEEDED_BYTES)} GB`, []);
  }
  const previous = currentVenv(o.storage);
  const venv = newVenvDir(o.storage, o.extensionVersion);
  const plan = installPlan({ basePython: o.basePython, venv, wheel: o.wheel, platform: o.platform });
  try {
    let heedVersion = "";
    for (const step of plan) {
      const tail = await runStep(step, o);
      if (step.id === "import") {
        heedVersion = tail[tail.length - 1]?.trim() ?? "";
      }
    }
    const stamp: Stamp = {
      extensionVersion: o.extensionVersion,
      heed: heedVersion,
      python: o.basePython.join(" "),
      createdAt: new Date().toISOString(),
    };
    writeStamp(venv, stamp);
    switchCurrent(o.storage, venv);
    o.log(`heed ${heedVersion} installed in ${venv}`);
    return { venv, python: venvPython(venv, o.platform), stamp, previous };
  } catch (e) {
    o.log(`removing ${venv}`);
    fs.rmSync(venv, { recursive: true, force: true });
    throw e;
  }
}

const TAIL_LINES = 40;

/** Runs one step; returns its last output lines, or throws an InstallError that says why it failed. */
async function runStep(step: Step, o: InstallOptions): Promise<string[]> {
  o.progress(step);
  o.log(`$ ${step.command.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(" ")}`);
  const tail: string[] = [];
  let code: number | null;
  try {
    code = await o.run(step.command, {
      // Not the editor's folder: `python -c "import heed"` there could import a checkout's heed.
      cwd: o.storage,
      signal: o.signal,
      onLine: (line) => {
        o.log(line);
        tail.push(line);
        if (tail.length > TAIL_LINES) {
          tail.shift();
        }
        o.progress(step, line);
      },
    });
  } catch (e) {
    throw new InstallError(step.title, `cannot run ${step.command[0]}: ${(e as Error).message}`, tail);
  }
  if (o.signal?.aborted) {
    throw new InstallError(step.title, "cancelled", tail, true);
  }
  if (code !== 0) {
    throw new InstallError(step.title, explainFailure(tail, code), tail);
  }
  return tail;
}
