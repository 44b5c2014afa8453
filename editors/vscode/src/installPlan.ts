// The commands that make the extension's venv: what `heed: Install or Repair Server` runs. Pure: no vscode import.
import { DISTRIBUTION, TORCH_CPU_INDEX } from "./interpreter";
import { venvPython } from "./ownedVenv";

export interface Step {
  id: "venv" | "torch" | "heed" | "import" | "check";
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
 * The CPU build of torch comes first, from PyTorch's index: heed's own `torch` requirement would
 * otherwise pull the several-GB CUDA build on Linux. heed's wheel then finds torch installed and
 * takes only libcst, pygls and the rest from the package index. pip reads PIP_* variables and its
 * config files as usual, so `PIP_NO_INDEX=1 PIP_FIND_LINKS=DIR` installs offline.
 */
export function installPlan({ basePython, venv, wheel, platform }: PlanInput): Step[] {
  const python = venvPython(venv, platform);
  const pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off"];
  return [
    { id: "venv", title: "Creating a Python environment", command: [...basePython, "-m", "venv", venv], weight: 5 },
    { id: "torch", title: "Installing torch (CPU build)", command: [...pip, "torch", "--index-url", TORCH_CPU_INDEX], weight: 65 },
    { id: "heed", title: "Installing heed", command: [...pip, wheel ?? DISTRIBUTION], weight: 20 },
    { id: "import", title: "Checking heed imports", command: [python, "-c", IMPORT_CHECK], weight: 2 },
    { id: "check", title: "Loading heed's model", command: [python, "-m", "heed", "check"], weight: 8 },
  ];
}
