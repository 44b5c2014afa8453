// The extension's own environment, under its global storage. Pure: no vscode import.
//
//   <storage>/venvs/<id>/                   one venv per install
//   <storage>/venvs/<id>/heed-install.json  its stamp: the extension version it was made for
//   <storage>/current.json                  {"venv": "<id>"}: the venv in use
//
// A new venv is made beside the one in use and current.json is switched to it (written aside,
// then renamed over: atomic) only once it works. The venv itself is never renamed: a venv cannot
// move, its scripts (pip, heed) name the folder pip installed them into.
import * as fs from "node:fs";
import * as path from "node:path";

export interface Stamp {
  extensionVersion: string; // the extension that made it; another version upgrades it
  heed: string; // heed.__version__ installed there
  python: string; // the Python it was made from
  createdAt: string;
}

export const STAMP_FILE = "heed-install.json";

export function venvsDir(storage: string): string {
  return path.join(storage, "venvs");
}

function currentFile(storage: string): string {
  return path.join(storage, "current.json");
}

export function venvPython(venv: string, platform: NodeJS.Platform = process.platform): string {
  return platform === "win32" ? path.join(venv, "Scripts", "python.exe") : path.join(venv, "bin", "python");
}

function writeJsonAtomically(file: string, data: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(data, null, 2) + "\n");
  fs.renameSync(tmp, file);
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

export function writeStamp(venv: string, stamp: Stamp): void {
  writeJsonAtomically(path.join(venv, STAMP_FILE), stamp);
}

export function readStamp(venv: string): Stamp | undefined {
  const data = readJson(path.join(venv, STAMP_FILE)) as Partial<Stamp> | undefined;
  const ok = data && (["extensionVersion", "heed", "python", "createdAt"] as const).every((k) => typeof data[k] === "string");
  return ok ? (data as Stamp) : undefined;
}

/** The folder of the venv in use, if current.json names one that exists. */
export function currentVenv(storage: string): string | undefined {
  const data = readJson(currentFile(storage)) as { venv?: unknown } | undefined;
  if (typeof data?.venv !== "string" || data.venv === "" || data.venv !== path.basename(data.venv)) {
    return undefined;
  }
  const dir = path.join(venvsDir(storage), data.venv);
  return fs.existsSync(dir) ? dir : undefined;
}

/** Makes `venv` (a folder in venvsDir) the one in use. */
export function switchCurrent(storage: string, venv: string): void {
  writeJsonAtomically(currentFile(storage), { venv: path.basename(venv) });
}

export type OwnedVenv =
  | { kind: "absent" }
  | { kind: "current"; dir: string; python: string; stamp: Stamp }
  | { kind: "outdated"; dir: string; python: string; stamp: Stamp } // made for another extension version
  | { kind: "broken"; dir: string; why: string };

/** What the extension has of its own: nothing, a venv for this version, one for another, or a broken one. */
export function ownedVenv(storage: string, extensionVersion: string, platform: NodeJS.Platform = process.platform): OwnedVenv {
  const dir = currentVenv(storage);
  if (!dir) {
    return { kind: "absent" };
  }
  const stamp = readStamp(dir);
  const python = venvPython(dir, platform);
  if (!stamp) {
    return { kind: "broken", dir, why: `${path.join(dir, STAMP_FILE)} is missing or unreadable` };
  }
  if (!fs.existsSync(python)) {
    return { kind: "broken", dir, why: `${python} is missing` };
  }
  return { kind: stamp.extensionVersion === extensionVersion ? "current" : "outdated", dir, python, stamp };
}

/**
 * Removes every venv but the one in use: those an install left when VS Code was killed mid-way.
 * Only while holding the install lock, or it could remove another window's install in progress.
 */
export function removeUnused(storage: string): string[] {
  const keep = currentVenv(storage);
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = fs.readdirSync(venvsDir(storage));
  } catch {
    return removed;
  }
  for (const name of names) {
    const dir = path.join(venvsDir(storage), name);
    if (dir !== keep) {
      fs.rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    }
  }
  return removed;
}
