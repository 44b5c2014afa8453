import assert from "node:assert/strict";
import { test } from "node:test";
import { Runner } from "../src/interpreter";
import { OwnedVenv, Stamp } from "../src/ownedVenv";
import { chooseServer } from "../src/serverChoice";

const probe = (heed: string | null, version = [3, 11, 2]): string => JSON.stringify({ version, executable: "/x/python", heed, foreign: null });

function fakeRunner(answers: Record<string, string>): Runner {
  return async (command) => {
    const answer = answers[command.join(" ")];
    if (answer === undefined) {
      throw new Error("spawn ENOENT");
    }
    return answer;
  };
}

const stamp: Stamp = { extensionVersion: "0.1.0", heed: "0.1.0", python: "python3", createdAt: "x" };
const current: OwnedVenv = { kind: "current", dir: "/s/venvs/a", python: "/s/venvs/a/bin/python", stamp };
const outdated: OwnedVenv = { ...current, kind: "outdated", stamp: { ...stamp, extensionVersion: "0.0.9" } };
const absent: OwnedVenv = { kind: "absent" };

test("the setting wins, even over the extension's venv and whatever heed version it has", async () => {
  const run = fakeRunner({ "/mine/python": probe("0.0.1"), "/s/venvs/a/bin/python": probe("0.1.0") });
  const c = await chooseServer({ setting: ["/mine/python"], owned: current, bundledHeed: "0.1.0", run });
  assert.equal(c.kind, "run");
  assert.deepEqual(c.kind === "run" && c.candidate, { command: ["/mine/python"], source: "setting" });
});

test("a setting without heed is for the user to fix: no install offer", async () => {
  const c = await chooseServer({ setting: ["/mine/python"], owned: absent, run: fakeRunner({ "/mine/python": probe(null) }) });
  assert.equal(c.kind, "fix-setting");
});

test("PATH's heed, when as new as the bundled wheel, comes before the extension's venv", async () => {
  const run = fakeRunner({ python3: probe("0.1.0"), "/s/venvs/a/bin/python": probe("0.1.0") });
  const c = await chooseServer({ setting: [], owned: current, bundledHeed: "0.1.0", run });
  assert.deepEqual(c.kind === "run" && c.candidate, { command: ["python3"], source: "PATH" });
});

test("an older heed on PATH is passed over for the extension's venv", async () => {
  const run = fakeRunner({ "/ext/python": probe("0.0.9"), python3: probe("0.0.9"), "/s/venvs/a/bin/python": probe("0.1.0") });
  const c = await chooseServer({ setting: [], fromPythonExtension: ["/ext/python"], owned: current, bundledHeed: "0.1.0", run });
  assert.deepEqual(c.kind === "run" && c.candidate, { command: ["/s/venvs/a/bin/python"], source: "extension's venv" });
});

test("only an older heed and no venv of our own: install, saying why, from that Python", async () => {
  const run = fakeRunner({ python3: probe("0.0.9") });
  const c = await chooseServer({ setting: [], owned: absent, bundledHeed: "0.1.0", run });
  assert.equal(c.kind, "install");
  assert.equal(c.kind === "install" && c.reason, "heed 0.0.9 for /x/python is older than this extension's 0.1.0");
  assert.deepEqual(c.kind === "install" && c.base, { command: ["python3"], source: "PATH" });
});

test("no heed anywhere: install from the first Python 3.10+", async () => {
  const run = fakeRunner({ python3: probe(null, [3, 8, 0]), python: probe(null) });
  const c = await chooseServer({ setting: [], owned: absent, bundledHeed: "0.1.0", run });
  assert.equal(c.kind, "install");
  assert.deepEqual(c.kind === "install" && c.base, { command: ["python"], source: "PATH" });
  assert.match(c.kind === "install" ? c.reason : "", /is not installed for \/x\/python/);
});

test("no Python at all: install has nothing to make the venv from, and lists why", async () => {
  const c = await chooseServer({ setting: [], owned: absent, run: fakeRunner({}) });
  assert.equal(c.kind, "install");
  assert.equal(c.kind === "install" && c.base, undefined);
  assert.equal(c.kind === "install" && c.problems.length, 2);
});

test("a venv made by another extension version is upgraded, the old one kept to serve meanwhile", async () => {
  const c = await chooseServer({ setting: [], owned: outdated, bundledHeed: "0.1.0", run: fakeRunner({ python3: probe(null) }) });
  assert.equal(c.kind, "upgrade");
  assert.deepEqual(c.kind === "upgrade" && c.old, { command: ["/s/venvs/a/bin/python"], source: "extension's venv" });
  assert.deepEqual(c.kind === "upgrade" && c.base, { command: ["python3"], source: "PATH" });
});

test("a venv of our own that no longer runs (its Python removed) is offered for repair", async () => {
  const c = await chooseServer({ setting: [], owned: current, run: fakeRunner({ python3: probe(null) }) });
  assert.equal(c.kind, "install");
  assert.match(c.kind === "install" ? c.reason : "", /the extension's venv \(\/s\/venvs\/a\) no longer works: .*ENOENT/);
});
