// Mapping VS Code's flat `heed.*` settings onto the server's nested settings. Pure: no vscode import.

export interface ServerSettings {
  modelPath: string;
  inline: { enabled: boolean; beamWidth: number; maxTokens: number; alternatives: number; minConfidence: number };
  completion: { maxItems: number };
  index: { enabled: boolean; exclude: string[] };
  learn: { automatic: boolean; minutes: number };
  torchThreads: number;
  logLevel: string;
}

export interface ExtensionSettings {
  interpreter: string[];
  serverArgs: string[];
  server: ServerSettings;
}

export const DEFAULTS: ServerSettings = {
  modelPath: "",
  inline: { enabled: true, beamWidth: 4, maxTokens: 16, alternatives: 3, minConfidence: -1 },
  completion: { maxItems: 20 },
  index: { enabled: true, exclude: [] },
  learn: { automatic: false, minutes: 3 },
  torchThreads: 0,
  logLevel: "info",
};

/** Reads one setting below `heed.` (e.g. "inline.enabled"), like WorkspaceConfiguration.get. */
export type Getter = <T>(key: string, fallback: T) => T;

export interface PathContext {
  workspaceFolder?: string;
  home: string;
}

/** Expands `${workspaceFolder}`, `${userHome}` and a leading `~` so settings can be portable. */
export function expandPath(value: string, ctx: PathContext): string {
  let out = value.replace(/\$\{userHome\}/g, ctx.home);
  if (ctx.workspaceFolder !== undefined) {
    out = out.replace(/\$\{workspaceFolder\}/g, ctx.workspaceFolder);
  }
  if (out === "~" || out.startsWith("~/")) {
    out = ctx.home + out.slice(1);
  }
  return out;
}

// Same ranges as the server (server/settings.py), which would otherwise reject the value.
function int(value: unknown, fallback: number, min: number, max: number): number {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max ? value : fallback;
}

function num(value: unknown, fallback: number, min: number, max: number): number {
  return typeof value === "number" && Number.isFinite(value) && value >= min && value <= max ? value : fallback;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string" && v !== "") : [];
}

export function readSettings(get: Getter, ctx: PathContext): ExtensionSettings {
  const d = DEFAULTS;
  return {
    interpreter: strings(get<unknown>("interpreter", [])).map((p) => expandPath(p, ctx)),
    serverArgs: strings(get<unknown>("serverArgs", [])),
    server: {
      modelPath: expandPath(String(get("modelPath", d.modelPath) ?? ""), ctx),
      inline: {
        enabled: get("inline.enabled", d.inline.enabled) !== false,
        beamWidth: int(get("inline.beamWidth", d.inline.beamWidth), d.inline.beamWidth, 1, 16),
        maxTokens: int(get("inline.maxTokens", d.inline.maxTokens), d.inline.maxTokens, 1, 64),
        alternatives: int(get("inline.alternatives", d.inline.alternatives), d.inline.alternatives, 1, 5),
        minConfidence: num(get("inline.minConfidence", d.inline.minConfidence), d.inline.minConfidence, -1, 1),
      },
      completion: { maxItems: int(get("completion.maxItems", d.completion.maxItems), d.completion.maxItems, 1, 200) },
      index: { enabled: get("index.enabled", d.index.enabled) !== false, exclude: strings(get<unknown>("index.exclude", [])) },
      learn: {
        automatic: get("learn.automatic", d.learn.automatic) === true,
        minutes: num(get("learn.minutes", d.learn.minutes), d.learn.minutes, 0.05, 60),
      },
      torchThreads: int(get("torchThreads", d.torchThreads), d.torchThreads, 0, 64),
      logLevel: String(get("logLevel", d.logLevel)),
    },
  };
}

/** Settings the running server cannot pick up by itself: changing them restarts it. */
export const RESTART_KEYS = ["heed.interpreter", "heed.serverArgs", "heed.modelPath", "heed.torchThreads"];

/** What a configuration change calls for, given ConfigurationChangeEvent.affectsConfiguration. */
export function changeAction(affects: (section: string) => boolean): "restart" | "notify" | "none" {
  if (!affects("heed")) {
    return "none";
  }
  return RESTART_KEYS.some(affects) ? "restart" : "notify";
}

/** The server process: `<python...> -m heed serve <serverArgs...>`. */
export function serverCommand(python: string[], serverArgs: string[]): { command: string; args: string[] } {
  return { command: python[0], args: [...python.slice(1), "-m", "heed", "serve", ...serverArgs] };
}
