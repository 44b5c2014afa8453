// Builds the language client for `python -m heed serve` over stdio.
import * as vscode from "vscode";
import { LanguageClient, LanguageClientOptions, RevealOutputChannelOn, ServerOptions } from "vscode-languageclient/node";
import { ExtensionSettings, serverCommand } from "./settings";

export function createClient(python: string[], settings: ExtensionSettings, log: vscode.LogOutputChannel): LanguageClient {
  const { command, args } = serverCommand(python, settings.serverArgs);
  const serverOptions: ServerOptions = {
    command,
    args,
    options: {
      cwd: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
      env: { ...process.env, PYTHONUNBUFFERED: "1" },
    },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "python" },
      { scheme: "untitled", language: "python" },
    ],
    initializationOptions: settings.server,
    outputChannel: log,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
  };
  // From vscode-languageclient 10.0.1 on, textDocument/inlineCompletion is forwarded by default.
  return new LanguageClient("heed", "heed", serverOptions, clientOptions);
}
