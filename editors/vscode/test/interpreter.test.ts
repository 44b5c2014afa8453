import assert from "node:assert/strict";
import { test } from "node:test";
import { candidates, installCommands, isSupported, parseProbe, Probe, PROBE_SCRIPT, resolveInterpreter, runPython, Runner } from "../src/interpreter";

const probe = (version: number[], heed: string | null): string => JSON.stringify({ version, executable: "/x/python", heed });

function fakeRunner(answers: Record<string, string | Error>): Runner {
  return async (command) => {
    const answer = answers[command.join(" ")];
    if (answer === undefined || answer instanceof Error) {
      throw answer ?? new Error("spawn ENOENT");
    }
    return answer;
  };
}

test("the setting is used alone when set", () => {
  assert.deepEqual(candidates(["/venv/bin/python"], ["/other"]), [{ command: ["/venv/bin/python"], source: "setting" }]);
});

test("then the Python extension, then PATH", () => {
  const list = candidates([], ["/ext/python"]);
  assert.deepEqual(list[0], { command: ["/ext/python"], source: "python extension" });
  assert.ok(list.slice(1).every((c) => c.source === "PATH"));
  assert.equal(candidates([], undefined)[0].source, "PATH");
});

test("Python older than 3.10 is refused", () => {
  assert.equal(isSupported([3, 9, 18]), false);
  assert.equal(isSupported([3, 10, 0]), true);
  assert.equal(isSupported([3, 13, 1]), true);
  assert.equal(isSupported([4, 0, 0]), true);
});

test("probe output parses, ignoring noise before the JSON line", () => {
  const p: Probe = parseProbe("warning: something\n" + probe([3, 11, 7], "0.1.0") + "\n");
  assert.deepEqual(p, { version: [3, 11, 7], executable: "/x/python", heed: "0.1.0" });
  assert.throws(() => parseProbe("not json"));
});

test("the first supported Python with heed wins", async () => {
  const run = fakeRunner({ "/ext/python": probe([3, 9, 1], "0.1.0"), python3: probe([3, 11, 2], "0.1.0") });
  const r = await resolveInterpreter(candidates([], ["/ext/python"]), run);
  assert.equal(r.kind, "ok");
  assert.deepEqual(r.kind === "ok" && r.candidate.command, ["python3"]);
});

test("a supported Python without heed is reported for an install hint", async () => {
  const run = fakeRunner({ python3: probe([3, 12, 0], null), python: probe([3, 12, 0], null) });
  const r = await resolveInterpreter(candidates([], undefined), run);
  assert.equal(r.kind, "no-heed");
});

test("no usable Python lists each reason", async () => {
  const run = fakeRunner({ "/old/python": probe([3, 8, 0], null) });
  const r = await resolveInterpreter(candidates(["/old/python"], undefined), run);
  assert.equal(r.kind, "none");
  assert.match(r.kind === "none" ? r.problems[0] : "", /3\.8\.0 is too old/);
});

test("install commands name the interpreter, and the checkout first when open", () => {
  assert.deepEqual(installCommands(["/venv/bin/python"]), ["/venv/bin/python -m pip install heed"]);
  assert.deepEqual(installCommands(["/my venv/python"], "/src/heed"), [
    '"/my venv/python" -m pip install /src/heed',
    '"/my venv/python" -m pip install heed',
  ]);
});

test("the real probe script runs on this machine's python3", async (t) => {
  let out: string;
  try {
    out = await runPython(["python3"], PROBE_SCRIPT);
  } catch {
    t.skip("no python3 on PATH");
    return;
  }
  const p = parseProbe(out);
  assert.ok(p.version[0] >= 3);
});
