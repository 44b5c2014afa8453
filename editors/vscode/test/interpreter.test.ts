import assert from "node:assert/strict";
import { test } from "node:test";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  candidates,
  DISTRIBUTION,
  installCommands,
  isSupported,
  parseProbe,
  Probe,
  PROBE_SCRIPT,
  resolveInterpreter,
  runPython,
  Runner,
} from "../src/interpreter";

const probe = (version: number[], heed: string | null, foreign: string | null = null): string =>
  JSON.stringify({ version, executable: "/x/python", heed, foreign });

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
  assert.deepEqual(parseProbe(probe([3, 11, 7], null, "not ours")), { version: [3, 11, 7], executable: "/x/python", heed: null, foreign: "not ours" });
  assert.throws(() => parseProbe("not json"));
});

test("the probe looks for heed's own distribution, not the unrelated `heed` on PyPI", () => {
  assert.equal(DISTRIBUTION, "heed-lsp");
  assert.match(PROBE_SCRIPT, /version\("heed-lsp"\)/);
  assert.doesNotMatch(PROBE_SCRIPT, /version\(['"]heed['"]\)/);
  assert.match(PROBE_SCRIPT, /import heed\.cli/);
  assert.match(PROBE_SCRIPT, /__version__/);
});

test("a Python whose `heed` is another package's is offered the install, with the reason", async () => {
  const foreign = "its 'heed' module is not from heed-lsp";
  const run = fakeRunner({ python3: probe([3, 12, 0], null, foreign), python: probe([3, 12, 0], null) });
  const r = await resolveInterpreter(candidates([], undefined), run);
  assert.equal(r.kind, "no-heed");
  assert.equal(r.kind === "no-heed" && r.probe.foreign, foreign);
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

test("install commands name the interpreter, install no torch, and the checkout first when open", () => {
  assert.deepEqual(installCommands(["/venv/bin/python"]), ["/venv/bin/python -m pip install heed-lsp"]);
  assert.deepEqual(installCommands(["/my venv/python"], "/src/heed"), [
    `"/my venv/python" -m pip install /src/heed`,
    `"/my venv/python" -m pip install heed-lsp`,
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

// The probe against real environments: a venv holding a module named `heed` that is not heed-lsp
// (as the unrelated PyPI `heed` is) is refused without importing it; the same venv with heed-lsp's
// metadata but that foreign module is refused too, because heed.cli does not import.
test("the real probe refuses a foreign `heed` module", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-probe-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  try {
    execFileSync("python3", ["-m", "venv", "--without-pip", dir], { stdio: "ignore", timeout: 60000 });
  } catch {
    t.skip("python3 cannot make a venv here");
    return;
  }
  const python = process.platform === "win32" ? path.join(dir, "Scripts", "python.exe") : path.join(dir, "bin", "python");
  const site = execFileSync(python, ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).toString().trim();
  fs.mkdirSync(path.join(site, "heed"));
  fs.writeFileSync(path.join(site, "heed", "__init__.py"), "raise ImportError('the unrelated heed must not be imported')\n");
  let p = parseProbe(await runPython([python], PROBE_SCRIPT));
  assert.equal(p.heed, null);
  assert.match(p.foreign ?? "", /not from heed-lsp/);

  const distInfo = path.join(site, "heed_lsp-0.1.0.dist-info");
  fs.mkdirSync(distInfo);
  fs.writeFileSync(path.join(distInfo, "METADATA"), "Metadata-Version: 2.1\nName: heed-lsp\nVersion: 0.1.0\n");
  p = parseProbe(await runPython([python], PROBE_SCRIPT));
  assert.equal(p.heed, null);
  assert.match(p.foreign ?? "", /heed-lsp 0\.1\.0 is installed, but heed\.cli does not import/);

  fs.writeFileSync(path.join(site, "heed", "__init__.py"), "");
  fs.writeFileSync(path.join(site, "heed", "cli.py"), "def main():\n    pass\n");
  p = parseProbe(await runPython([python], PROBE_SCRIPT));
  assert.equal(p.heed, null, "a heed without __version__ is not this heed");
  assert.match(p.foreign ?? "", /another package's/);

  fs.writeFileSync(path.join(site, "heed", "__init__.py"), "__version__ = '0.1.0'\n");
  p = parseProbe(await runPython([python], PROBE_SCRIPT));
  assert.equal(p.heed, "0.1.0");
  assert.equal(p.foreign, undefined);
});
