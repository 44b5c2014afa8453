// One install at a time across VS Code windows (they share the global storage). Pure: no vscode import.
//
// The lock is a file created exclusively, holding the owner's pid. A lock whose process is gone
// (VS Code killed mid-install), or older than STALE_MS, is taken over.
import * as fs from "node:fs";

export const STALE_MS = 2 * 60 * 60 * 1000;

export interface Lock {
  release(): void;
}

export type LockResult = { kind: "acquired"; lock: Lock } | { kind: "busy"; pid: number };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by another user
  }
}

/** The pid of a live holder of `file`, or undefined when the lock is free or stale. */
function holder(file: string, now: number): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, "utf8").trim());
    const age = now - fs.statSync(file).mtimeMs;
    return Number.isInteger(pid) && pid > 0 && age < STALE_MS && alive(pid) ? pid : undefined;
  } catch {
    return undefined; // gone meanwhile, or unreadable: taken over below
  }
}

export function tryLock(file: string, pid: number = process.pid, now: number = Date.now()): LockResult {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(pid), { flag: "wx" });
      return {
        kind: "acquired",
        lock: { release: () => fs.rmSync(file, { force: true }) },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
        throw e;
      }
    }
    const owner = holder(file, now);
    if (owner !== undefined) {
      return { kind: "busy", pid: owner };
    }
    fs.rmSync(file, { force: true });
  }
  return { kind: "busy", pid: holder(file, now) ?? 0 }; // another window took it over between our tries
}
