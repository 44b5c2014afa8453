import assert from "node:assert/strict";
import { test } from "node:test";
import { installPlan } from "../src/installPlan";

const PIP = ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off"];

test("the plan: a venv from the given Python, the bundled wheel (no torch), then two checks", () => {
  const plan = installPlan({ basePython: ["py", "-3.11"], venv: "/s/venvs/0.1.0-x", wheel: "/ext/wheels/heed_lsp-0.1.0-py3-none-any.whl", platform: "linux" });
  const py = "/s/venvs/0.1.0-x/bin/python";
  assert.deepEqual(
    plan.map((s) => [s.id, s.command]),
    [
      ["venv", ["py", "-3.11", "-m", "venv", "/s/venvs/0.1.0-x"]],
      ["heed", [py, ...PIP, "/ext/wheels/heed_lsp-0.1.0-py3-none-any.whl"]],
      ["import", [py, "-c", plan[2].command[2]]],
      ["check", [py, "-m", "heed", "check"]],
    ],
  );
  assert.match(plan[2].command[2], /import importlib\.metadata as md, heed, heed\.cli/);
  assert.match(plan[2].command[2], /md\.version\("heed-lsp"\) == heed\.__version__/);
  assert.ok(!plan.some((s) => s.command.includes("torch")));
  assert.equal(plan.reduce((sum, s) => sum + s.weight, 0), 100);
});

test("without a bundled wheel heed-lsp comes from the index; Windows venvs keep python in Scripts", () => {
  const plan = installPlan({ basePython: ["python"], venv: "C:\\s\\v", platform: "win32" });
  assert.deepEqual(plan[1].command.slice(-1), ["heed-lsp"]);
  assert.match(plan[1].command[0], /Scripts[\\/]python\.exe$/);
});
