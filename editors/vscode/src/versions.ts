// heed's versions: comparing them, and the wheel the .vsix ships (wheels/heed_lsp-<version>-py3-none-any.whl,
// put there by scripts/bundle-wheel.js). Pure: no vscode import.
import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Orders PEP 440 versions as far as heed's own need them: the release numbers, then a
 * pre-release (a, b, rc, dev) before its release and a .postN after it. A local part (+cpu) is ignored.
 */
export function compareVersions(a: string, b: string): number {
  const [ra, sa] = split(a);
  const [rb, sb] = split(b);
  for (let i = 0; i < Math.max(ra.length, rb.length); i++) {
    const d = (ra[i] ?? 0) - (rb[i] ?? 0);
    if (d !== 0) {
      return Math.sign(d);
    }
  }
  return Math.sign(sa - sb);
}

function split(version: string): [number[], number] {
  const m = /^v?(\d+(?:\.\d+)*)(.*)$/i.exec(version.trim().split("+")[0]);
  if (!m) {
    return [[], 0];
  }
  const rest = m[2].toLowerCase();
  const suffix = rest === "" ? 0 : /^[._-]?(post|rev|r)\d*$/.test(rest) ? 1 : -1;
  return [m[1].split(".").map(Number), suffix];
}

export interface BundledWheel {
  path: string;
  version: string;
}

const WHEEL_NAME = /^heed_lsp-([^-]+)-py3-none-any\.whl$/;

/** The version in a heed wheel's file name, or undefined if it is not one. */
export function wheelVersion(fileName: string): string | undefined {
  return WHEEL_NAME.exec(fileName)?.[1];
}

/** The newest heed wheel in `dir` (the .vsix ships one), or undefined (a build from source without one). */
export function bundledWheel(dir: string): BundledWheel | undefined {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return undefined;
  }
  const wheels = names
    .map((name) => ({ path: path.join(dir, name), version: wheelVersion(name) }))
    .filter((w): w is BundledWheel => w.version !== undefined)
    .sort((x, y) => compareVersions(y.version, x.version));
  return wheels[0];
}
