// The install as the user sees it: a cancellable progress notification with the current step,
// every command in the heed log, and on failure one message with the last lines and "Show Log".
import * as path from "node:path";
import * as vscode from "vscode";
import { spawnRunner } from "./commandRunner";
import { Candidate } from "./interpreter";
import { InstallError, Installed, installServer } from "./installer";
import { tryLock } from "./installLock";
import { removeUnused } from "./ownedVenv";
import { BundledWheel } from "./versions";

export interface InstallContext {
  storage: string;
  wheel?: BundledWheel;
  extensionVersion: string;
  log: vscode.LogOutputChannel;
}

/** "installed": the new venv is in use; "waited": another window installed meanwhile; "failed": said so. */
export type InstallOutcome = "installed" | "waited" | "failed";

/**
 * Makes the extension's venv from `base`, one window at a time. `stopServer` runs once the new venv
 * works and before the old one is removed, so no server of ours runs from a deleted folder.
 */
export async function installWithProgress(
  ctx: InstallContext,
  base: Candidate | undefined,
  title: string,
  stopServer: () => Promise<void>,
): Promise<InstallOutcome> {
  const { log } = ctx;
  if (!base) {
    log.error("no Python 3.10+ found to make the extension's venv with");
    void showFailure(ctx, "no Python 3.10 or newer was found to make its environment with: install one, or set heed.interpreter");
    return "failed";
  }
  await vscode.workspace.fs.createDirectory(vscode.Uri.file(ctx.storage));
  const lockFile = path.join(ctx.storage, "install.lock");
  const first = tryLock(lockFile);
  if (first.kind === "busy") {
    log.info(`another VS Code window (pid ${first.pid}) is installing heed; waiting for it`);
    await waitForOtherWindow(lockFile);
    return "waited";
  }
  try {
    removeUnused(ctx.storage).forEach((dir) => log.info(`removed an unfinished install: ${dir}`));
    const installed = await runWithProgress(ctx, base, title);
    if (!installed) {
      return "failed";
    }
    await stopServer();
    removeUnused(ctx.storage).forEach((dir) => log.info(`removed the previous venv: ${dir}`));
    return "installed";
  } finally {
    first.lock.release();
  }
}

async function runWithProgress(ctx: InstallContext, base: Candidate, title: string): Promise<Installed | undefined> {
  const { log } = ctx;
  log.info(`${title} into ${ctx.storage} with ${base.command.join(" ")} (${base.source}), heed from ${ctx.wheel?.path ?? "the package index"}`);
  const started = Date.now();
  try {
    const installed = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `heed: ${title}`, cancellable: true },
      (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        let done = 0;
        let lastStep = "";
        return installServer({
          storage: ctx.storage,
          basePython: base.command,
          wheel: ctx.wheel?.path,
          extensionVersion: ctx.extensionVersion,
          run: spawnRunner,
          signal: abort.signal,
          log: (line) => log.info(line),
          progress: (step, detail) => {
            let increment: number | undefined;
            if (step.id !== lastStep) {
              lastStep = step.id;
              increment = done; // the bar moves by the share of the step just finished
              done = step.weight;
            }
            progress.report({ message: detail ? `${step.title}: ${detail.slice(0, 80)}` : `${step.title}…`, increment });
          },
        });
      },
    );
    log.info(`installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return installed;
  } catch (e) {
    if (e instanceof InstallError && e.cancelled) {
      log.warn("install cancelled; its unfinished venv was removed");
      void vscode.window.showInformationMessage("heed: install cancelled. Nothing was left installed.");
      return undefined;
    }
    const err = e instanceof InstallError ? e : new InstallError("Installing", String(e), []);
    log.error(`install failed while ${err.step.toLowerCase()}: ${err.reason}`);
    const last = err.tail.slice(-3).join(" | ");
    void showFailure(ctx, `${err.step.toLowerCase()} failed: ${err.reason}.${last ? ` Last lines: ${last}` : ""} Nothing was left installed.`);
    return undefined;
  }
}

async function showFailure(ctx: InstallContext, message: string): Promise<void> {
  const choice = await vscode.window.showErrorMessage(`heed: could not install the server: ${message}`, "Show Log", "Retry");
  if (choice === "Show Log") {
    ctx.log.show();
  } else if (choice === "Retry") {
    await vscode.commands.executeCommand("heed.install");
  }
}

/** Waits, with a notification, until the lock is free (its holder finished or died). */
async function waitForOtherWindow(lockFile: string): Promise<void> {
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: "heed: another window is installing the server…", cancellable: true },
    async (_progress, token) => {
      while (!token.isCancellationRequested) {
        await new Promise((r) => setTimeout(r, 2000));
        const probe = tryLock(lockFile);
        if (probe.kind === "acquired") {
          probe.lock.release();
          return;
        }
      }
    },
  );
}
