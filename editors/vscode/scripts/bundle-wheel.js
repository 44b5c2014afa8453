// Puts heed's wheel into wheels/ for the .vsix: the extension installs it into its own venv, so only
// torch, libcst, pygls and the like come from the package index. The wheel is built from the sdist
// (as .ci/wheel_check.sh does), never from the working tree's stale build/ folder.
// Python: $HEED_BUILD_PYTHON, else the repository's .venv, else python3; it needs `build` (pip install build).
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const root = path.resolve(__dirname, "..", "..", "..");
const wheels = path.resolve(__dirname, "..", "wheels");
const venvPython = path.join(root, ".venv", process.platform === "win32" ? "Scripts/python.exe" : "bin/python");
const python = process.env.HEED_BUILD_PYTHON || (fs.existsSync(venvPython) ? venvPython : "python3");

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "heed-wheel-"));
try {
  try {
    execFileSync(python, ["-m", "build", "--outdir", tmp, root], { stdio: "pipe" });
  } catch (e) {
    process.stderr.write(`${e.stdout ?? ""}${e.stderr ?? ""}\n${python} -m build ${root} failed (is \`build\` installed?)\n`);
    process.exit(1);
  }
  const built = fs.readdirSync(tmp).filter((n) => /^heed_lsp-[^-]+-py3-none-any\.whl$/.test(n));
  if (built.length !== 1) {
    process.stderr.write(`expected one heed_lsp wheel in ${tmp}, found: ${fs.readdirSync(tmp).join(", ")}\n`);
    process.exit(1);
  }
  fs.rmSync(wheels, { recursive: true, force: true });
  fs.mkdirSync(wheels);
  fs.copyFileSync(path.join(tmp, built[0]), path.join(wheels, built[0]));
  console.log(`wheels/${built[0]} (${(fs.statSync(path.join(wheels, built[0])).size / 1e6).toFixed(1)} MB)`);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
