import assert from "node:assert/strict";
import { test } from "node:test";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { STALE_MS, tryLock } from "../src/installLock";

function lockFile(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-lock-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, "install.lock");
}

test("one holder at a time; released, it can be taken again", (t) => {
  const file = lockFile(t);
  const first = tryLock(file);
  assert.equal(first.kind, "acquired");
  assert.deepEqual(tryLock(file), { kind: "busy", pid: process.pid });
  if (first.kind === "acquired") {
    first.lock.release();
  }
  assert.equal(fs.existsSync(file), false);
  assert.equal(tryLock(file).kind, "acquired");
});

test("a lock whose process is gone, or too old, is taken over", (t) => {
  const file = lockFile(t);
  const dead = spawnSync(process.execPath, ["-e", ""]).pid as number;
  fs.writeFileSync(file, String(dead));
  assert.equal(tryLock(file, 1234).kind, "acquired");
  assert.equal(fs.readFileSync(file, "utf8"), "1234");

  fs.writeFileSync(file, String(process.pid));
  assert.equal(tryLock(file, 1234, Date.now() + STALE_MS + 1000).kind, "acquired");
  fs.writeFileSync(file, "garbage");
  assert.equal(tryLock(file, 1234).kind, "acquired");
});
