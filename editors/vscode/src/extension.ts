// Entry point: find Python, check heed is there, run the server, keep the status bar current.
import * as os from "node:os";
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { DidChangeConfigurationNotification, LanguageClient } from "vscode-languageclient/node";
import { createClient } from "./client";
import { candidates, DISTRIBUTION, installCommands, resolveInterpreter } from "./interpreter";
import { onPythonChanged, pythonFromExtension } from "./pythonExtension";
import { changeAction, ExtensionSettings, readSettings } from "./settings";
import { StatusParams } from "./status";
import { StatusBar } from "./statusBar";

let client: LanguageClient | undefined;
let log: vscode.LogOutputChannel;
let status: StatusBar;
let starting: Promise<void> = Promise.resolve();

function currentSettings(): ExtensionSettings {
  const folder = vscode.workspace.workspaceFolders?.[0];
  const config = vscode.workspace.getConfiguration("heed", folder?.uri);
  return readSettings((key, fallback) => config.get(key, fallback), { workspaceFolder: folder?.uri.fsPath, home: os.homedir() });
}

/** An open heed checkout (its pyproject names heed-lsp), so the install hint can say `pip install <checkout>`. */
function openCheckout(): string | undefined {
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const pyproject = path.join(folder.uri.fsPath, "pyproject.toml");
    if (fs.existsSync(pyproject) && new RegExp(`^name\\s*=\\s*"${DISTRIBUTION}"`, "m").test(fs.readFileSync(pyproject, "utf8"))) {
      return folder.uri.fsPath;
    }
  }
  return undefined;
}

/** `foreign`: why a `heed` module found there is not this one (the probe refused it). */
async function offerInstall(python: string[], foreign?: string): Promise<void> {
  const cmds = installCommands(python, openCheckout());
  const missing = `heed (${DISTRIBUTION}) is not installed for ${python.join(" ")}${foreign ? `: ${foreign}` : ""}.`;
  log.warn(`${missing} Install it with: ${cmds.join("  or  ")}`);
  const choice = await vscode.window.showWarningMessage(
    `${missing} Install it with: ${cmds[0]}`,
    "Copy Command",
    "Choose Interpreter",
  );
  if (choice === "Copy Command") {
    await vscode.env.clipboard.writeText(cmds[0]);
  } else if (choice === "Choose Interpreter") {
    await vscode.commands.executeCommand("workbench.action.openSettings", "heed.interpreter");
  }
}

async function stop(): Promise<void> {
  const old = client;
  client = undefined;
  if (old) {
    await old.stop().catch((e) => log.warn(`stopping the server: ${e}`));
    await old.dispose();
  }
}

async function start(): Promise<void> {
  await stop();
  status.show({ state: "starting" });
  const settings = currentSettings();
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  const fromExt = settings.interpreter.length ? undefined : await pythonFromExtension(folder);
  const found = await resolveInterpreter(candidates(settings.interpreter, fromExt));
  if (found.kind === "none") {
    log.error(`no usable Python found:\n  ${found.problems.join("\n  ")}`);
    status.show({ state: "error", message: "No Python >= 3.10 found; set heed.interpreter" });
    void vscode.window.showErrorMessage(`heed: no Python 3.10+ found. Set \`heed.interpreter\` to a Python that has ${DISTRIBUTION} installed.`);
    return;
  }
  if (found.kind === "no-heed") {
    status.show({ state: "error", message: `heed (${DISTRIBUTION}) is not installed for ${found.probe.executable}` });
    void offerInstall(found.candidate.command, found.probe.foreign);
    return;
  }
  log.info(`Python ${found.probe.version.join(".")} at ${found.probe.executable} (${found.candidate.source}), heed ${found.probe.heed}`);
  client = createClient(found.candidate.command, settings, log);
  client.onNotification("heed/status", (params: StatusParams) => {
    status.show(params);
    const line = `server ${params.state}: ${params.model ?? ""} ${params.message ?? ""}`;
    (params.state === "error" || params.state === "fallback" ? log.warn : log.info).call(log, line);
  });
  try {
    await client.start();
  } catch (e) {
    log.error(`the server did not start: ${e}`);
    status.show({ state: "error", message: String(e) });
  }
}

function restart(): Promise<void> {
  // Serialise restarts: settings events can arrive in bursts.
  starting = starting.then(start, start);
  return starting;
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  log = vscode.window.createOutputChannel("heed", { log: true });
  status = new StatusBar();
  context.subscriptions.push(
    log,
    status,
    vscode.commands.registerCommand("heed.restart", restart),
    vscode.commands.registerCommand("heed.showLog", () => log.show()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      const action = changeAction((section) => e.affectsConfiguration(section));
      if (action === "restart") {
        void restart();
      } else if (action === "notify" && client?.isRunning()) {
        void client.sendNotification(DidChangeConfigurationNotification.type, { settings: { heed: currentSettings().server } });
      }
    }),
  );
  const pythonWatch = await onPythonChanged(() => {
    if (currentSettings().interpreter.length === 0) {
      void restart();
    }
  });
  if (pythonWatch) {
    context.subscriptions.push(pythonWatch);
  }
  await restart();
}

export async function deactivate(): Promise<void> {
  await stop();
}
