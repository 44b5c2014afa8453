import assert from "node:assert/strict";
import { test } from "node:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CommandRunner } from "../src/commandRunner";
import { InstallError, installServer, InstallOptions, NEEDED_BYTES } from "../src/installer";
import { Step } from "../src/installPlan";
import { currentVenv, ownedVenv, readStamp, switchCurrent, venvPython, venvsDir, writeStamp } from "../src/ownedVenv";

type Behaviour = { lines?: string[]; code?: number | null; throws?: Error };

/** Plays each step: `-m venv` makes the folder; the others print lines and exit as told. */
function fakeRunner(behave: Partial<Record<Step["id"], Behaviour>>, seen: string[][] = []): CommandRunner {
  return async (command, { onLine, signal, cwd }) => {
    seen.push(command);
    assert.ok(cwd && fs.existsSync(cwd), "commands run in the storage folder, not the editor's");
    const id: Step["id"] = command.includes("venv")
      ? "venv"
      : command.includes("-c")
        ? "import"
        : command.includes("check")
          ? "check"
          : "heed";
    if (id === "venv") {
      const dir = command[command.length - 1];
      fs.mkdirSync(path.join(dir, "bin"), { recursive: true });
      fs.writeFileSync(path.join(dir, "bin", "python"), "");
    }
    const b = behave[id] ?? {};
    if (b.throws) {
      throw b.throws;
    }
    (b.lines ?? (id === "import" ? ["0.1.0"] : [`${id} done`])).forEach(onLine);
    return signal?.aborted ? null : b.code === undefined ? 0 : b.code;
  };
}

function options(t: { after(fn: () => void): void }, run: CommandRunner, extra: Partial<InstallOptions> = {}) {
  const storage = fs.mkdtempSync(path.join(os.tmpdir(), "heed-install-"));
  t.after(() => fs.rmSync(storage, { recursive: true, force: true }));
  const log: string[] = [];
  const steps: string[] = [];
  const o: InstallOptions = {
    storage,
    basePython: ["/usr/bin/python3"],
    wheel: "/ext/wheels/heed_lsp-0.1.0-py3-none-any.whl",
    extensionVersion: "0.1.0",
    run,
    platform: "linux",
    log: (l) => log.push(l),
    progress: (step, detail) => detail === undefined && steps.push(step.id),
    freeBytes: () => 10e9,
    ...extra,
  };
  return { o, log, steps, storage };
}

test("a full install: every step in order, logged, stamped, then made current", async (t) => {
  const seen: string[][] = [];
  const { o, log, steps, storage } = options(t, fakeRunner({}, seen));
  const installed = await installServer(o);
  assert.deepEqual(steps, ["venv", "heed", "import", "check"]);
  assert.equal(seen.length, 4);
  assert.ok(log.some((l) => l.startsWith("$ /usr/bin/python3 -m venv ")));
  assert.ok(log.includes("heed done"));
  assert.equal(currentVenv(storage), installed.venv);
  assert.equal(installed.python, venvPython(installed.venv, "linux"));
  assert.equal(installed.previous, undefined);
  assert.deepEqual(readStamp(installed.venv), installed.stamp);
  assert.equal(installed.stamp.extensionVersion, "0.1.0");
  assert.equal(installed.stamp.heed, "0.1.0");
  assert.equal(ownedVenv(storage, "0.1.0", "linux").kind, "current");
});

test("a failing step removes the new venv and leaves the one in use current", async (t) => {
  const { o, storage } = options(t, fakeRunner({ heed: { lines: ["ERROR: [Errno 28] No space left on device"], code: 1 } }));
  const old = path.join(venvsDir(storage), "old");
  fs.mkdirSync(old, { recursive: true });
  writeStamp(old, { extensionVersion: "0.0.9", heed: "0.0.9", python: "python3", createdAt: "x" });
  switchCurrent(storage, old);

  const err = await installServer(o).then(
    () => assert.fail("should fail"),
    (e: unknown) => e as InstallError,
  );
  assert.ok(err instanceof InstallError);
  assert.equal(err.step, "Installing heed");
  assert.equal(err.reason, "the disk is full");
  assert.deepEqual(err.tail, ["ERROR: [Errno 28] No space left on device"]);
  assert.equal(err.cancelled, false);
  assert.deepEqual(fs.readdirSync(venvsDir(storage)), ["old"]);
  assert.equal(currentVenv(storage), old);
});

test("heed check failing after everything installed still leaves nothing behind", async (t) => {
  const { o, storage } = options(t, fakeRunner({ check: { lines: ["heed 0.1.0: model not usable"], code: 1 } }));
  await assert.rejects(installServer(o), (e: InstallError) => e.step === "Loading heed's model");
  assert.deepEqual(fs.readdirSync(venvsDir(storage)), []);
  assert.equal(fs.existsSync(path.join(storage, "current.json")), false);
});

test("an upgrade reports the venv it replaces, for removal once no server runs from it", async (t) => {
  const { o, storage } = options(t, fakeRunner({}), { extensionVersion: "0.2.0" });
  const old = path.join(venvsDir(storage), "0.1.0-old");
  fs.mkdirSync(old, { recursive: true });
  switchCurrent(storage, old);
  const installed = await installServer(o);
  assert.equal(installed.previous, old);
  assert.ok(fs.existsSync(old), "the old venv is not removed while a server may run from it");
  assert.match(path.basename(installed.venv), /^0\.2\.0-/);
  assert.equal(currentVenv(storage), installed.venv);
});

test("cancelling stops the step and removes the new venv", async (t) => {
  const abort = new AbortController();
  const { o, storage } = options(t, fakeRunner({ heed: { lines: ["Collecting libcst"] } }), {
    signal: abort.signal,
    progress: (step) => step.id === "heed" && abort.abort(),
  });
  await assert.rejects(installServer(o), (e: InstallError) => e.cancelled && e.message === "the install was cancelled");
  assert.deepEqual(fs.readdirSync(venvsDir(storage)), []);
});

test("a Python that cannot be run fails with the reason, and leaves nothing", async (t) => {
  const { o, storage } = options(t, fakeRunner({ venv: { throws: new Error("spawn /usr/bin/python3 ENOENT") } }));
  await assert.rejects(installServer(o), (e: InstallError) => /cannot run \/usr\/bin\/python3: spawn .* ENOENT/.test(e.reason));
  assert.deepEqual(fs.readdirSync(venvsDir(storage)), []);
});

test("too little disk space is said before anything is made", async (t) => {
  const seen: string[][] = [];
  const { o, storage } = options(t, fakeRunner({}, seen), { freeBytes: () => NEEDED_BYTES / 3 });
  await assert.rejects(installServer(o), (e: InstallError) => /only 0\.2 GB free in .*heed needs about 0\.5 GB/.test(e.reason));
  assert.equal(seen.length, 0);
  assert.deepEqual(fs.readdirSync(venvsDir(storage)), []);
});
