// The interpreter chosen in the Python extension (ms-python.python), when it is installed.
import * as vscode from "vscode";

interface PythonApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
    resolveEnvironment(path: { path: string } | string): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
    onDidChangeActiveEnvironmentPath: vscode.Event<unknown>;
  };
  settings?: { getExecutionDetails(resource?: vscode.Uri): { execCommand: string[] | undefined } };
}

async function api(): Promise<PythonApi | undefined> {
  const ext = vscode.extensions.getExtension<PythonApi>("ms-python.python");
  if (!ext) {
    return undefined;
  }
  try {
    return ext.isActive ? ext.exports : await ext.activate();
  } catch {
    return undefined;
  }
}

export async function pythonFromExtension(resource?: vscode.Uri): Promise<string[] | undefined> {
  const py = await api();
  if (py?.environments) {
    const env = await py.environments.resolveEnvironment(py.environments.getActiveEnvironmentPath(resource));
    const exe = env?.executable.uri?.fsPath;
    if (exe) {
      return [exe];
    }
  }
  // Older Python extensions.
  return py?.settings?.getExecutionDetails(resource).execCommand;
}

/** Calls `listener` when the user picks another interpreter in the Python extension. */
export async function onPythonChanged(listener: () => void): Promise<vscode.Disposable | undefined> {
  return (await api())?.environments?.onDidChangeActiveEnvironmentPath(listener);
}
