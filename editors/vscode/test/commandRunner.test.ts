import assert from "node:assert/strict";
import { test } from "node:test";
import * as fs from "node:fs";
import * as os from "node:os";
import { spawnRunner } from "../src/commandRunner";

const node = process.execPath;

test("output arrives line by line from stdout and stderr; the exit code comes back", async () => {
  const lines: string[] = [];
  const code = await spawnRunner([node, "-e", "console.log('a\\nb'); console.error('c'); process.stdout.write('no newline'); process.exit(3)"], {
    onLine: (l) => lines.push(l),
  });
  assert.equal(code, 3);
  assert.deepEqual([...lines].sort(), ["a", "b", "c", "no newline"]);
});

test("the command runs in the folder given", async () => {
  const lines: string[] = [];
  await spawnRunner([node, "-e", "console.log(process.cwd())"], { onLine: (l) => lines.push(l), cwd: os.tmpdir() });
  assert.deepEqual(lines, [fs.realpathSync(os.tmpdir())]);
});

test("an abort stops the command and resolves null", async () => {
  const abort = new AbortController();
  const started = Date.now();
  const run = spawnRunner([node, "-e", "console.log('up'); setTimeout(() => {}, 60000)"], {
    onLine: () => abort.abort(),
    signal: abort.signal,
  });
  assert.equal(await run, null);
  assert.ok(Date.now() - started < 10000);
});

test("a command that does not exist rejects", async () => {
  await assert.rejects(spawnRunner(["/nonexistent/python3"], { onLine: () => {} }), /ENOENT/);
});
