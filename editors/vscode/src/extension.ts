// Entry point: pick the Python that runs the server (serverChoice.ts), install heed into a venv of
// the extension's own when none has it, run the server, keep the status bar current.
import * as os from "node:os";
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { DidChangeConfigurationNotification, LanguageClient } from "vscode-languageclient/node";
import { createClient } from "./client";
import { Candidate, candidates, DISTRIBUTION, installCommands, Resolution, resolveInterpreter } from "./interpreter";
import { InstallContext, InstallOutcome, installWithProgress } from "./installUi";
import { ownedVenv } from "./ownedVenv";
import { onPythonChanged, pythonFromExtension } from "./pythonExtension";
import { chooseServer, ServerChoice } from "./serverChoice";
import { changeAction, ExtensionSettings, readSettings } from "./settings";
import { StatusParams } from "./status";
import { StatusBar } from "./statusBar";
import { bundledWheel } from "./versions";

let client: LanguageClient | undefined;
let log: vscode.LogOutputChannel;
let status: StatusBar;
let starting: Promise<void> = Promise.resolve();
let extensionContext: vscode.ExtensionContext;
let installing = false; // an install or upgrade runs; it restarts the server when done
let upgradeTried = false;

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

function installContext(): InstallContext {
  return {
    storage: extensionContext.globalStorageUri.fsPath,
    wheel: bundledWheel(extensionContext.asAbsolutePath("wheels")),
    extensionVersion: String(extensionContext.extension.packageJSON.version),
    log,
  };
}

/** heed.interpreter names a Python without a usable heed: say how to install it there. */
async function reportSetting(resolution: Exclude<Resolution, { kind: "ok" }>): Promise<void> {
  if (resolution.kind === "none") {
    log.error(`heed.interpreter is not usable:\n  ${resolution.problems.join("\n  ")}`);
    status.show({ state: "error", message: "heed.interpreter is not a Python 3.10+" });
    void vscode.window.showErrorMessage(`heed: the Python in \`heed.interpreter\` is not usable: ${resolution.problems[0] ?? ""}`);
    return;
  }
  const { candidate, probe } = resolution;
  const missing = `heed (${DISTRIBUTION}) is not installed for ${candidate.command.join(" ")} (heed.interpreter)${probe.foreign ? `: ${probe.foreign}` : ""}.`;
  status.show({ state: "error", message: missing });
  const cmds = installCommands(candidate.command, openCheckout());
  log.warn(`${missing} Install it with: ${cmds.join("  or  ")}`);
  const choice = await vscode.window.showWarningMessage(`heed: ${missing} Install it with: ${cmds[0]}`, "Copy Command", "Choose Interpreter");
  await handleChoice(choice, cmds[0]);
}

/** No Python has heed: offer the extension's own venv, or the command for a Python of the user's. */
async function offerInstall(choice: Extract<ServerChoice, { kind: "install" }>): Promise<void> {
  log.warn(`${choice.reason}${choice.problems.length ? `:\n  ${choice.problems.join("\n  ")}` : ""}`);
  status.show({ state: "error", message: choice.reason });
  if (!choice.base) {
    const picked = await vscode.window.showErrorMessage(
      `heed: ${choice.reason}. Install Python 3.10 or newer, or set \`heed.interpreter\` to one that has ${DISTRIBUTION}.`,
      "Choose Interpreter",
      "Show Log",
    );
    await handleChoice(picked);
    return;
  }
  const cmd = installCommands(choice.base.command, openCheckout())[0];
  const picked = await vscode.window.showWarningMessage(
    `heed: ${choice.reason}. Install heed into an environment of the extension's own (heed and its dependencies, about 130 MB)?`,
    "Install heed",
    "Copy Command",
    "Choose Interpreter",
  );
  if (picked === "Install heed") {
    await installAndRestart(choice.base, "installing the server");
  } else {
    await handleChoice(picked, cmd);
  }
}

async function handleChoice(picked: string | undefined, command?: string): Promise<void> {
  if (picked === "Copy Command" && command) {
    await vscode.env.clipboard.writeText(command);
  } else if (picked === "Choose Interpreter") {
    await vscode.commands.executeCommand("workbench.action.openSettings", "heed.interpreter");
  } else if (picked === "Show Log") {
    log.show();
  }
}

/**
 * "Install heed", "heed: Install or Repair Server" and upgrades: a new venv of the extension's own,
 * then a restart onto it. A server already running keeps serving until the new venv works.
 */
async function installAndRestart(base: Candidate | undefined, title: string): Promise<void> {
  if (installing) {
    void vscode.window.showInformationMessage("heed: the server is being installed already.");
    return;
  }
  installing = true;
  if (!client) {
    status.show({ state: "installing" });
  }
  let outcome: InstallOutcome;
  try {
    // Stopping goes through the restart queue, so it never interleaves with a start.
    outcome = await installWithProgress(installContext(), base, title, () => (starting = starting.then(stop, stop)));
  } finally {
    installing = false;
  }
  if (outcome !== "failed") {
    await restart();
  } else if (!client) {
    status.show({ state: "error", message: "heed could not be installed: see the log" });
  }
}

/** The command: re-creates the extension's venv from the first Python 3.10+ found. */
async function installCommand(): Promise<void> {
  const settings = currentSettings();
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  const found = await resolveInterpreter(candidates([], await pythonFromExtension(folder)));
  await installAndRestart(found.kind === "none" ? undefined : found.candidate, "installing the server");
  if (settings.interpreter.length > 0) {
    void vscode.window.showInformationMessage("heed: `heed.interpreter` is set, and it is used before the extension's own environment.");
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
  const ctx = installContext();
  const choice = await chooseServer({
    setting: settings.interpreter,
    fromPythonExtension: settings.interpreter.length ? undefined : await pythonFromExtension(folder),
    owned: ownedVenv(ctx.storage, ctx.extensionVersion),
    bundledHeed: ctx.wheel?.version,
  });
  switch (choice.kind) {
    case "run":
      log.info(`Python ${choice.probe.version.join(".")} at ${choice.probe.executable} (${choice.candidate.source}), heed ${choice.probe.heed}`);
      return startClient(choice.candidate.command, settings);
    case "fix-setting":
      return void reportSetting(choice.resolution);
    case "install":
      return installing ? status.show({ state: "installing" }) : void offerInstall(choice);
    case "upgrade":
      // The old venv serves while the new one is made; one try per session (the command retries).
      log.info(`the extension's venv was made by version ${choice.stamp.extensionVersion} of the extension: upgrading it; ${choice.old.command[0]} serves meanwhile`);
      await startClient(choice.old.command, settings);
      if (!upgradeTried) {
        upgradeTried = true;
        void installAndRestart(choice.base, `upgrading the server to ${ctx.wheel?.version ?? ctx.extensionVersion}`);
      }
      return;
  }
}

async function startClient(python: string[], settings: ExtensionSettings): Promise<void> {
  client = createClient(python, settings, log);
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
  extensionContext = context;
  log = vscode.window.createOutputChannel("heed", { log: true });
  status = new StatusBar();
  context.subscriptions.push(
    log,
    status,
    vscode.commands.registerCommand("heed.restart", restart),
    vscode.commands.registerCommand("heed.showLog", () => log.show()),
    vscode.commands.registerCommand("heed.install", installCommand),
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
