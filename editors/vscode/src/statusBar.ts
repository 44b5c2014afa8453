// The status bar item: the server's `heed/status` (loading / ready / fallback / error + model).
import * as vscode from "vscode";
import { describeStatus, StatusParams } from "./status";

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("heed.status", vscode.StatusBarAlignment.Right, 100);

  constructor() {
    this.item.name = "heed";
    this.item.command = "heed.showLog";
    this.show({ state: "starting" });
    this.item.show();
  }

  show(params: StatusParams): void {
    const view = describeStatus(params);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor = view.error
      ? new vscode.ThemeColor("statusBarItem.errorBackground")
      : view.warning
        ? new vscode.ThemeColor("statusBarItem.warningBackground")
        : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
