import assert from "node:assert/strict";
import { test } from "node:test";
import { explainFailure } from "../src/installFailure";

test("pip's output names the cause a user can act on", () => {
  const cases: [string[], string][] = [
    [["ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device"], "the disk is full"],
    [
      [
        "WARNING: Retrying (Retry(total=0)) after connection broken by 'NewConnectionError(... Failed to establish a new connection: [Errno -3] Temporary failure in name resolution)'",
        "ERROR: Could not find a version that satisfies the requirement libcst (from versions: none)",
        "ERROR: No matching distribution found for libcst",
      ],
      "pip could not reach the package index (no network, or a proxy in the way)",
    ],
    [["ERROR: No matching distribution found for pygls>=2.1"], "pip could not find pygls>=2.1 (no network, or not on the package index)"],
    [
      ["The virtual environment was not created successfully because ensurepip is not", "available.  On Debian/Ubuntu systems, you need to install the python3-venv"],
      "this Python cannot make virtual environments (on Debian or Ubuntu: sudo apt install python3-venv)",
    ],
  ];
  for (const [tail, cause] of cases) {
    assert.equal(explainFailure(tail, 1), cause);
  }
});

test("unknown output: the exit code, or that it was stopped", () => {
  assert.equal(explainFailure(["Traceback (most recent call last):", "KeyError: 'x'"], 2), "it exited with code 2");
  assert.equal(explainFailure([], null), "it was stopped");
});
