// Which Python runs the server. Pure: no vscode import (the editor's answers are passed in).
//
//   1. the heed.interpreter setting, alone when set: the user's choice, whatever heed it has;
//   2. the Python extension's interpreter, then python3/python on PATH, where heed is installed
//      and at least as new as the wheel this extension ships;
//   3. the extension's own venv (remade first when an other extension version made it);
//   4. else an offer to install heed into a venv of the extension's own.
import { Candidate, candidates, DISTRIBUTION, Probe, Resolution, resolveInterpreter, Runner, runPython } from "./interpreter";
import { OwnedVenv, Stamp } from "./ownedVenv";

export interface ChoiceInput {
  setting: string[];
  fromPythonExtension?: string[];
  owned: OwnedVenv;
  bundledHeed?: string; // the version of the wheel in the .vsix
  run?: Runner;
}

export type ServerChoice =
  | { kind: "run"; candidate: Candidate; probe: Probe }
  /** heed.interpreter is set but has no usable heed: the user installs it there or changes the setting. */
  | { kind: "fix-setting"; resolution: Exclude<Resolution, { kind: "ok" }> }
  /** The extension's venv was made for another extension version: remake it, else run the old one. */
  | { kind: "upgrade"; old: Candidate; stamp: Stamp; base?: Candidate }
  /** Nothing usable: offer to install, with a Python 3.10+ to make the venv from when there is one. */
  | { kind: "install"; reason: string; base?: Candidate; problems: string[] };

export const OWNED_SOURCE = "extension's venv";

export async function chooseServer(input: ChoiceInput): Promise<ServerChoice> {
  const run = input.run ?? runPython;
  if (input.setting.length > 0) {
    const r = await resolveInterpreter(candidates(input.setting, undefined), run);
    return r.kind === "ok" ? { kind: "run", candidate: r.candidate, probe: r.probe } : { kind: "fix-setting", resolution: r };
  }
  const found = await resolveInterpreter(candidates([], input.fromPythonExtension), run, input.bundledHeed);
  if (found.kind === "ok") {
    return { kind: "run", candidate: found.candidate, probe: found.probe };
  }
  const base = found.kind === "no-heed" ? found.candidate : undefined;
  const problems = found.kind === "none" ? found.problems : [];
  const owned = input.owned;
  if (owned.kind === "outdated") {
    return { kind: "upgrade", old: { command: [owned.python], source: OWNED_SOURCE }, stamp: owned.stamp, base };
  }
  if (owned.kind === "current") {
    const mine = await resolveInterpreter([{ command: [owned.python], source: OWNED_SOURCE }], run);
    if (mine.kind === "ok") {
      return { kind: "run", candidate: mine.candidate, probe: mine.probe };
    }
    const why = mine.kind === "none" ? mine.problems.join("; ") : (mine.probe.foreign ?? "heed does not import");
    return { kind: "install", reason: `the extension's venv (${owned.dir}) no longer works: ${why}`, base, problems };
  }
  if (owned.kind === "broken") {
    return { kind: "install", reason: `the extension's venv is incomplete: ${owned.why}`, base, problems };
  }
  return { kind: "install", reason: missingReason(found, input.bundledHeed), base, problems };
}

function missingReason(found: Exclude<Resolution, { kind: "ok" }>, bundledHeed?: string): string {
  if (found.kind === "none") {
    return "no Python 3.10+ found";
  }
  const { probe } = found;
  if (probe.heed) {
    return `heed ${probe.heed} for ${probe.executable} is older than this extension's ${bundledHeed}`;
  }
  return `heed (${DISTRIBUTION}) is not installed for ${probe.executable}${probe.foreign ? `: ${probe.foreign}` : ""}`;
}
