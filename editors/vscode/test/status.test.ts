import assert from "node:assert/strict";
import { test } from "node:test";
import { describeStatus } from "../src/status";

test("ready shows a check and the model in the tooltip", () => {
  const v = describeStatus({ state: "ready", model: "default", message: "loaded in 1.2 s" });
  assert.equal(v.text, "$(check) heed");
  assert.match(v.tooltip, /model: default/);
  assert.equal(v.error || v.warning, false);
});

test("fallback warns, error errs, loading spins", () => {
  assert.equal(describeStatus({ state: "fallback" }).warning, true);
  assert.equal(describeStatus({ state: "error" }).error, true);
  assert.equal(describeStatus({ state: "loading" }).text, "$(loading~spin) heed loading");
});
