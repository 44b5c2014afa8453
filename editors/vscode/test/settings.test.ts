import assert from "node:assert/strict";
import { test } from "node:test";
import { changeAction, DEFAULTS, expandPath, Getter, readSettings, serverCommand } from "../src/settings";

const ctx = { workspaceFolder: "/ws", home: "/home/u" };

function getterFrom(values: Record<string, unknown>): Getter {
  return <T>(key: string, fallback: T) => (key in values ? (values[key] as T) : fallback);
}

test("defaults map onto the server's nested settings", () => {
  const s = readSettings(getterFrom({}), ctx);
  assert.deepEqual(s.server, DEFAULTS);
  assert.deepEqual(s.interpreter, []);
  assert.deepEqual(s.serverArgs, []);
});

test("flat VS Code keys become nested keys", () => {
  const s = readSettings(
    getterFrom({
      modelPath: "${workspaceFolder}/runs/ft",
      "inline.enabled": false,
      "inline.beamWidth": 2,
      "inline.maxTokens": 8,
      "inline.alternatives": 1,
      "inline.minConfidence": 0.4,
      "completion.maxItems": 5,
      "index.enabled": false,
      "index.exclude": ["build/", "", 3, "/scripts/*.py"],
      "learn.automatic": true,
      "learn.minutes": 1.5,
      torchThreads: 2,
      logLevel: "debug",
      interpreter: ["~/venv/bin/python"],
      serverArgs: ["-v"],
    }),
    ctx,
  );
  assert.deepEqual(s.server, {
    modelPath: "/ws/runs/ft",
    inline: { enabled: false, beamWidth: 2, maxTokens: 8, alternatives: 1, minConfidence: 0.4 },
    completion: { maxItems: 5 },
    index: { enabled: false, exclude: ["build/", "/scripts/*.py"] },
    learn: { automatic: true, minutes: 1.5 },
    torchThreads: 2,
    logLevel: "debug",
  });
  assert.deepEqual(s.interpreter, ["/home/u/venv/bin/python"]);
  assert.deepEqual(s.serverArgs, ["-v"]);
});

test("invalid numbers fall back to defaults", () => {
  const s = readSettings(
    getterFrom({ "inline.beamWidth": 0, "inline.maxTokens": 65, "completion.maxItems": 2.5, torchThreads: "x" }),
    ctx,
  );
  assert.equal(s.server.inline.beamWidth, 4);
  assert.equal(s.server.inline.maxTokens, 16);
  assert.equal(s.server.completion.maxItems, 20);
  assert.equal(s.server.torchThreads, 0);
});

test("expandPath", () => {
  assert.equal(expandPath("~", ctx), "/home/u");
  assert.equal(expandPath("${userHome}/m", ctx), "/home/u/m");
  assert.equal(expandPath("${workspaceFolder}/m", { home: "/h" }), "${workspaceFolder}/m");
  assert.equal(expandPath("/abs/~x", ctx), "/abs/~x");
});

test("model and interpreter changes restart; inline/popup settings are sent live", () => {
  const affects = (keys: string[]) => (section: string) => keys.some((k) => k === section || k.startsWith(section + "."));
  assert.equal(changeAction(affects(["editor.fontSize"])), "none");
  assert.equal(changeAction(affects(["heed.modelPath"])), "restart");
  assert.equal(changeAction(affects(["heed.interpreter"])), "restart");
  assert.equal(changeAction(affects(["heed.inline.enabled"])), "notify");
  assert.equal(changeAction(affects(["heed.completion.maxItems"])), "notify");
  assert.equal(changeAction(affects(["heed.index.exclude"])), "notify"); // the server makes a new index itself
});

test("server command", () => {
  assert.deepEqual(serverCommand(["py", "-3.11"], ["-v"]), { command: "py", args: ["-3.11", "-m", "heed", "serve", "-v"] });
});
