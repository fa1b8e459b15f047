/**
 * The two scripts `node install` and `node uninstall` run as root on a node (`sudo sh -c
 * SCRIPT name ARGS…`). Everything variable reaches them as positional arguments, never spliced
 * into the text; the paths are layout.ts's. The install unpacks into a staging directory
 * inside the install root, checks every file against the payload's sha256 list, validates the
 * sudo rule with visudo, and only then swaps each part in with rename; any failure before the
 * end puts the old parts back and removes what it made, so the node is left as it was. A
 * second install of the same payload finds everything in place and changes nothing. The last
 * stdout line is `result=installed|unchanged|removed|absent`.
 */

import { BYPASS_META_ROOT, BYPASS_PIN_ROOT } from '@dfs/protocol';
import { shWord } from '../agent/wrapper';
import { REMOTE } from './layout';

/** The parts of the install root, each swapped in whole. */
const PARTS = ['runtime', 'agent', 'bin', 'files.sha256', 'install.json', 'update-keys', 'sudoers-files'];

/**
 * Args: 1 upload dir (holds payload.tgz; empty: only check whether everything is in place,
 * `result=unchanged|needed`, so an unchanged node is never sent the payload), 2 its sha256,
 * 3 sudo rule file, 4 sudo rule text, 5 wrapper text, 6 update key line, 7 install record
 * (one JSON line).
 */
export const INSTALL_SCRIPT = `
set -u
umask 022
root=${shWord(REMOTE.root)}
upload=$1 sum=$2 sudoers=$3 rule=$4 wrapper=$5 key=$6 record=$7
work="" swapped="" made_root=no done=no
say() { printf 'dfs-ebpf-install: %s\\n' "$*" >&2; }
fail() { say "$*"; exit 1; }
finish() {
  rc=$?
  if [ "$done" != yes ]; then
    for part in $swapped; do
      rm -rf "$root/$part"
      if [ -e "$work/old/$part" ]; then mv "$work/old/$part" "$root/$part"; fi
    done
  fi
  if [ -n "$work" ]; then rm -rf "$work"; fi
  rm -f /etc/sudoers.d/.dfs-ebpf-install
  if [ "$done" != yes ] && [ "$made_root" = yes ]; then rm -rf "$root"; fi
  exit $rc
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
case "$sudoers" in ${shWord(REMOTE.sudoersDir)}/dfs-ebpf-*) ;; *) fail "refusing sudo rule file $sudoers" ;; esac
if [ -n "$upload" ]; then
  printf '%s  %s\\n' "$sum" "$upload/payload.tgz" | sha256sum -c --status - || fail "the uploaded payload is damaged (sha256 differs)"
fi

same() { printf '%s' "$1" | cmp -s - "$2"; }
if [ -f "$root/install.json" ] && same "$record
" "$root/install.json" && (cd "$root" && sha256sum -c --status files.sha256 2>/dev/null) \\
  && same "$wrapper" "$root/bin/dfs-ebpf-agent" && same "$rule" "$sudoers" \\
  && grep -qxF "$key" "$root/update-keys" 2>/dev/null; then
  echo result=unchanged
  done=yes
  exit 0
fi
if [ -z "$upload" ]; then
  echo result=needed
  done=yes
  exit 0
fi

if [ ! -d "$root" ]; then mkdir -p "$root" || fail "cannot create $root"; made_root=yes; fi
chown root:root "$root" && chmod 0755 "$root" || fail "cannot own $root"
work=$(mktemp -d "$root/.install.XXXXXX") || fail "cannot make a staging directory in $root"
mkdir "$work/new" "$work/old" || fail "cannot write in $work"
err=$(tar -xzf "$upload/payload.tgz" -C "$work/new" --no-same-owner 2>&1 >/dev/null) \\
  || fail "unpacking the agent in $root failed: $(printf '%s' "$err" | tail -n 1)"
(cd "$work/new" && sha256sum -c --quiet files.sha256 >/dev/null 2>&1) || fail "the unpacked agent differs from its checksums"
rm -f "$work/new/payload.json"
{ mkdir -p "$work/new/bin" && printf '%s' "$wrapper" > "$work/new/bin/dfs-ebpf-agent" \\
  && printf '%s\\n' "$record" > "$work/new/install.json" \\
  && { cat "$root/update-keys" 2>/dev/null; true; } > "$work/new/update-keys" \\
  && { grep -qxF "$key" "$work/new/update-keys" || printf '%s\\n' "$key" >> "$work/new/update-keys"; } \\
  && { cat "$root/sudoers-files" 2>/dev/null; true; } > "$work/new/sudoers-files" \\
  && { grep -qxF "$sudoers" "$work/new/sudoers-files" || printf '%s\\n' "$sudoers" >> "$work/new/sudoers-files"; } \\
  && printf '%s' "$rule" > "$work/rule"; } 2>/dev/null || fail "writing the agent's files in $root failed (disk full?)"
chown -R root:root "$work/new" && chmod -R go-w "$work/new" && chmod 0755 "$work/new/bin/dfs-ebpf-agent" \\
  && chmod 0644 "$work/new/update-keys" || fail "cannot set the owner and mode of the agent's files"
visudo -c -q -f "$work/rule" >/dev/null 2>&1 || fail "visudo rejects the agent's sudo rule: $rule"

for part in ${PARTS.join(' ')}; do
  if [ -e "$root/$part" ]; then mv "$root/$part" "$work/old/$part" || fail "cannot move $root/$part aside"; fi
  swapped="$swapped $part"
  mv "$work/new/$part" "$root/$part" || fail "cannot put $root/$part in place"
done
{ cp "$work/rule" /etc/sudoers.d/.dfs-ebpf-install && chown root:root /etc/sudoers.d/.dfs-ebpf-install \\
  && chmod 0440 /etc/sudoers.d/.dfs-ebpf-install && mv /etc/sudoers.d/.dfs-ebpf-install "$sudoers"; } 2>/dev/null \\
  || fail "cannot write the sudo rule $sudoers"
done=yes
echo result=installed
`;

/**
 * Args: 1 the sudo rule file of the user running it (removed even when no record lists it).
 * Stops every agent running from the install (they release what they hold as they exit, and
 * the survivors of TERM are killed), releases the pinned bypasses (`--release-pins`), removes
 * every sudo rule an install recorded, then the install root.
 */
export const UNINSTALL_SCRIPT = `
set -u
root=${shWord(REMOTE.root)}
node=${shWord(REMOTE.node)}
sudoers=$1
case "$sudoers" in ${shWord(REMOTE.sudoersDir)}/dfs-ebpf-*) ;; *) echo "dfs-ebpf-uninstall: refusing $sudoers" >&2; exit 1 ;; esac
if [ ! -e "$root" ] && [ ! -e "$sudoers" ]; then echo result=absent; exit 0; fi
ours() {
  for d in /proc/[0-9]*; do
    [ "$(readlink "$d/exe" 2>/dev/null)" = "$node" ] && echo "\${d#/proc/}"
  done
}
pids=$(ours)
if [ -n "$pids" ]; then
  echo "stopping=$(echo $pids)"
  kill -TERM $pids 2>/dev/null
  i=0
  while [ $i -lt 30 ] && [ -n "$(ours)" ]; do sleep 0.1; i=$((i + 1)); done
  left=$(ours)
  if [ -n "$left" ]; then kill -KILL $left 2>/dev/null; sleep 0.2; fi
fi
if [ -x "$root/bin/dfs-ebpf-agent" ]; then "$root/bin/dfs-ebpf-agent" --release-pins </dev/null >&2 2>&1 || true; fi
rm -rf ${shWord(BYPASS_PIN_ROOT)} ${shWord(BYPASS_META_ROOT)}
if [ -f "$root/sudoers-files" ]; then
  while IFS= read -r f; do
    case "$f" in ${shWord(REMOTE.sudoersDir)}/dfs-ebpf-*) rm -f "$f" ;; esac
  done < "$root/sudoers-files"
fi
rm -f "$sudoers"
rm -rf "$root" || { echo "dfs-ebpf-uninstall: cannot remove $root" >&2; exit 1; }
echo result=removed
`;
