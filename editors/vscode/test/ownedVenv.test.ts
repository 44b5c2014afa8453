import assert from "node:assert/strict";
import { test } from "node:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { currentVenv, ownedVenv, removeUnused, Stamp, switchCurrent, venvPython, venvsDir, writeStamp } from "../src/ownedVenv";

function storage(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-storage-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A venv folder with a python file and, optionally, a stamp. */
function fakeVenv(store: string, name: string, stamp?: Partial<Stamp>): string {
  const dir = path.join(venvsDir(store), name);
  fs.mkdirSync(path.dirname(venvPython(dir)), { recursive: true });
  fs.writeFileSync(venvPython(dir), "");
  if (stamp) {
    writeStamp(dir, { extensionVersion: "0.1.0", heed: "0.1.0", python: "python3", createdAt: "2025-01-01T00:00:00Z", ...stamp });
  }
  return dir;
}

test("no current.json, or one naming a missing folder: no venv of our own", (t) => {
  const store = storage(t);
  assert.deepEqual(ownedVenv(store, "0.1.0"), { kind: "absent" });
  fs.writeFileSync(path.join(store, "current.json"), JSON.stringify({ venv: "gone" }));
  assert.deepEqual(ownedVenv(store, "0.1.0"), { kind: "absent" });
});

test("current.json never points outside venvs/", (t) => {
  const store = storage(t);
  fakeVenv(store, "a", {});
  for (const venv of ["../venvs/a", "/etc", "", 3]) {
    fs.writeFileSync(path.join(store, "current.json"), JSON.stringify({ venv }));
    assert.equal(currentVenv(store), undefined, String(venv));
  }
});

test("the stamp decides: same extension version current, another outdated, none broken", (t) => {
  const store = storage(t);
  const dir = fakeVenv(store, "0.1.0-a", { extensionVersion: "0.1.0" });
  switchCurrent(store, dir);
  assert.deepEqual(ownedVenv(store, "0.1.0"), {
    kind: "current",
    dir,
    python: venvPython(dir),
    stamp: { extensionVersion: "0.1.0", heed: "0.1.0", python: "python3", createdAt: "2025-01-01T00:00:00Z" },
  });
  assert.equal(ownedVenv(store, "0.2.0").kind, "outdated");
  assert.equal(ownedVenv(store, "0.0.9").kind, "outdated", "a downgrade remakes it too");

  const unstamped = fakeVenv(store, "0.1.0-b");
  switchCurrent(store, unstamped);
  assert.equal(ownedVenv(store, "0.1.0").kind, "broken");
  fs.writeFileSync(path.join(unstamped, "heed-install.json"), "{not json");
  assert.equal(ownedVenv(store, "0.1.0").kind, "broken");

  switchCurrent(store, dir);
  fs.rmSync(venvPython(dir));
  const owned = ownedVenv(store, "0.1.0");
  assert.equal(owned.kind, "broken");
  assert.match(owned.kind === "broken" ? owned.why : "", /python is missing/);
});

test("switching writes current.json whole, leaving no temporary file", (t) => {
  const store = storage(t);
  const dir = fakeVenv(store, "x", {});
  switchCurrent(store, dir);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(store, "current.json"), "utf8")), { venv: "x" });
  assert.deepEqual(fs.readdirSync(store).sort(), ["current.json", "venvs"]);
});

test("unused venvs are removed, the current one kept", (t) => {
  const store = storage(t);
  const keep = fakeVenv(store, "keep", {});
  const left = fakeVenv(store, "left-by-a-crash");
  switchCurrent(store, keep);
  assert.deepEqual(removeUnused(store), [left]);
  assert.deepEqual(fs.readdirSync(venvsDir(store)), ["keep"]);
  assert.deepEqual(removeUnused(path.join(store, "nothing-here")), []);
});
