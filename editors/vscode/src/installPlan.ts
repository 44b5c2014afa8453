// The commands that make the extension's venv: what `heed: Install or Repair Server` runs. Pure: no vscode import.
import { DISTRIBUTION } from "./interpreter";
import { venvPython } from "./ownedVenv";

export interface Step {
  id: "venv" | "heed" | "import" | "check";
  title: string; // shown in the progress notification
  command: string[];
  weight: number; // share of the progress bar, out of 100
}

export interface PlanInput {
  basePython: string[]; // a Python 3.10+ to make the venv with
  venv: string; // the new venv's folder (not there yet)
  wheel?: string; // heed's wheel shipped in the .vsix; else heed-lsp from the package index
  platform?: NodeJS.Platform;
}

// Prints heed's version, and fails unless heed is heed-lsp's and its command line imports.
export const IMPORT_CHECK = [
  "import importlib.metadata as md, heed, heed.cli",
  `assert md.version("${DISTRIBUTION}") == heed.__version__, (md.version("${DISTRIBUTION}"), heed.__version__)`,
  "print(heed.__version__)",
].join("; ");

/**
 * heed's wheel and its dependencies (libcst, pygls, numpy and the rest) from the package index: the
 * server completes in numpy, so torch is left out; "heed: Learn This Project" offers to install it
 * when it is first needed (the server runs pip in this venv). pip reads PIP_* variables and its
 * config files as usual, so `PIP_NO_INDEX=1 PIP_FIND_LINKS=DIR` installs offline.
 */
export function installPlan({ basePython, venv, wheel, platform }: PlanInput): Step[] {
  const python = venvPython(venv, platform);
  const pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off"];
  return [
    { id: "venv", title: "Creating a Python environment", command: [...basePython, "-m", "venv", venv], weight: 15 },
    { id: "heed", title: "Installing heed", command: [...pip, wheel ?? DISTRIBUTION], weight: 65 },
    { id: "import", title: "Checking heed imports", command: [python, "-c", IMPORT_CHECK], weight: 5 },
    { id: "check", title: "Loading heed's model", command: [python, "-m", "heed", "check"], weight: 15 },
  ];
}
