import assert from "node:assert/strict";
import { test } from "node:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { bundledWheel, compareVersions, wheelVersion } from "../src/versions";

test("versions compare by release, pre-releases before and post-releases after", () => {
  assert.equal(compareVersions("0.1.0", "0.1.0"), 0);
  assert.equal(compareVersions("0.1", "0.1.0"), 0);
  assert.equal(compareVersions("0.2.0", "0.10.0"), -1);
  assert.equal(compareVersions("1.0.0", "0.99.9"), 1);
  assert.equal(compareVersions("0.1.0rc1", "0.1.0"), -1);
  assert.equal(compareVersions("0.1.0.dev3", "0.1.0"), -1);
  assert.equal(compareVersions("0.1.0.post1", "0.1.0"), 1);
  assert.equal(compareVersions("2.13.0+cpu", "2.13.0"), 0);
});

test("a heed wheel's name gives its version; other files give none", () => {
  assert.equal(wheelVersion("heed_lsp-0.1.0-py3-none-any.whl"), "0.1.0");
  assert.equal(wheelVersion("heed-0.1.0-py3-none-any.whl"), undefined);
  assert.equal(wheelVersion("heed_lsp-0.1.0.tar.gz"), undefined);
});

test("the bundled wheel is the newest heed wheel in the folder, or none", (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-wheels-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  assert.equal(bundledWheel(path.join(dir, "missing")), undefined);
  assert.equal(bundledWheel(dir), undefined);
  for (const name of ["heed_lsp-0.1.0-py3-none-any.whl", "heed_lsp-0.2.0-py3-none-any.whl", "README.md"]) {
    fs.writeFileSync(path.join(dir, name), "");
  }
  assert.deepEqual(bundledWheel(dir), { path: path.join(dir, "heed_lsp-0.2.0-py3-none-any.whl"), version: "0.2.0" });
});
