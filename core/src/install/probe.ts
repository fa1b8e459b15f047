/**
 * What a node must have before anything of ours is written to it, found without root and
 * without writing: the machine (the payload is x86-64 only), glibc for the runtime, the kernel
 * parts DESIGN.md §2 relies on (BTF, cgroup v2, the BPF syscall, bpffs, FUSE, and — when the
 * kernel's config is readable — sockmap/sk_msg, cgroup BPF and BPF events), the tools the
 * install script uses, the free space where the install goes, and what is installed there now.
 * PROBE_SCRIPT prints `key=value` lines; assessNode (pure, unit-tested) turns them into
 * problems that stop the install, each said plainly, and notes that do not.
 */

import { INSTALL_ROOT, NODE_RUNTIME, REMOTE } from './layout';

/** Kernel config options the product needs, with what each one is for. */
export const KERNEL_CONFIG = {
  CONFIG_BPF_SYSCALL: 'the bpf() system call',
  CONFIG_CGROUP_BPF: 'BPF programs on cgroups (sock_ops)',
  CONFIG_BPF_STREAM_PARSER: 'sockmap/sockhash (the socket bypass)',
  CONFIG_NET_SOCK_MSG: 'sk_msg programs (the socket bypass)',
  CONFIG_DEBUG_INFO_BTF: 'kernel BTF (CO-RE programs, tp_btf)',
  CONFIG_BPF_EVENTS: 'BPF on tracepoints and uprobes (profiling)',
  CONFIG_FUSE_FS: 'FUSE (JuiceFS mounts)',
} as const;

const TOOLS = ['sudo', 'tar', 'gzip', 'sha256sum', 'visudo', 'flock', 'mktemp'] as const;

/** Runs as the SSH user with `sh -c`; reads only, writes nothing. */
export const PROBE_SCRIPT = `
echo "machine=$(uname -m)"
echo "release=$(uname -r)"
echo "user=$(id -un)"
echo "glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null)"
yes_no() { if "$@"; then echo yes; else echo no; fi; }
echo "btf=$(yes_no test -r /sys/kernel/btf/vmlinux)"
echo "cgroup2=$(yes_no grep -q '^[^ ]* [^ ]* cgroup2 ' /proc/mounts)"
echo "bpf_syscall=$(yes_no test -e /proc/sys/kernel/unprivileged_bpf_disabled)"
echo "bpffs=$(yes_no grep -qw bpf /proc/filesystems)"
echo "fuse=$(yes_no grep -qw fuse /proc/filesystems)"
for t in ${TOOLS.join(' ')}; do
  p=$(command -v "$t" 2>/dev/null || { [ -x "/usr/sbin/$t" ] && echo "/usr/sbin/$t"; })
  echo "tool_$t=$p"
done
config=""
if [ -r "/boot/config-$(uname -r)" ]; then config=$(cat "/boot/config-$(uname -r)")
elif [ -r /proc/config.gz ] && command -v zcat >/dev/null; then config=$(zcat /proc/config.gz 2>/dev/null); fi
if [ -n "$config" ]; then
  echo "config=yes"
  for k in ${Object.keys(KERNEL_CONFIG).join(' ')}; do
    v=$(printf '%s\\n' "$config" | sed -n "s/^$k=//p" | head -n 1)
    echo "$k=$v"
  done
else
  echo "config=no"
fi
d=${INSTALL_ROOT}
while [ ! -d "$d" ]; do d=$(dirname "$d"); done
echo "free_dir=$d"
echo "free_kb=$(df -Pk "$d" 2>/dev/null | awk 'NR==2 {print $4}')"
echo "installed=$(cat ${REMOTE.record} 2>/dev/null | tr -d '\\n')"
`;

export type NodeFacts = Record<string, string>;

export function parseFacts(text: string): NodeFacts {
  const facts: NodeFacts = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) facts[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return facts;
}

export interface InstalledRecord {
  version: string;
  build: string;
  runtime: string;
}

export interface Assessment {
  /** Each one stops the install before anything is written. */
  problems: string[];
  /** Worth saying, not stopping (e.g. a kernel config the node does not expose). */
  notes: string[];
  installed: InstalledRecord | null;
}

function glibcOf(text: string | undefined): [number, number] | null {
  const m = /(\d+)\.(\d+)/.exec(text ?? '');
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/**
 * The verdict on a node's facts for a payload of `needBytes` unpacked (the space check counts
 * it twice: an upgrade holds the old and the new side by side until the swap).
 */
export function assessNode(f: NodeFacts, needBytes: number): Assessment {
  const problems: string[] = [];
  const notes: string[] = [];
  if (f.machine !== NODE_RUNTIME.machine) {
    problems.push(
      `the node is ${f.machine || 'of an unknown architecture'}; this client ships the agent for ${NODE_RUNTIME.machine} only`,
    );
  }
  const glibc = glibcOf(f.glibc);
  const [maj, min] = NODE_RUNTIME.minGlibc;
  if (!glibc)
    problems.push(`no glibc found (getconf GNU_LIBC_VERSION); the agent's Node runtime needs glibc ${maj}.${min}+`);
  else if (glibc[0] < maj || (glibc[0] === maj && glibc[1] < min))
    problems.push(`glibc ${glibc.join('.')} is too old; the agent's Node runtime needs ${maj}.${min} or newer`);
  const need: [string, string][] = [
    ['btf', 'kernel BTF (/sys/kernel/btf/vmlinux is missing: a kernel built without CONFIG_DEBUG_INFO_BTF)'],
    ['cgroup2', 'a cgroup v2 mount (no cgroup2 in /proc/mounts)'],
    ['bpf_syscall', 'the bpf() system call (/proc/sys/kernel/unprivileged_bpf_disabled is missing)'],
    ['bpffs', 'the BPF file system (bpf in /proc/filesystems)'],
    ['fuse', 'FUSE (fuse in /proc/filesystems)'],
  ];
  for (const [k, what] of need) if (f[k] !== 'yes') problems.push(`the kernel lacks ${what}`);
  if (f.config === 'yes') {
    for (const [k, what] of Object.entries(KERNEL_CONFIG)) {
      if (f[k] !== 'y') problems.push(`the kernel is built without ${k} (${what})${f[k] ? `: ${k}=${f[k]}` : ''}`);
    }
  } else {
    notes.push(
      'the kernel config is not readable (/boot/config-*, /proc/config.gz): sockmap and sk_msg are checked when the agent starts',
    );
  }
  for (const t of TOOLS) if (!f[`tool_${t}`]) problems.push(`\`${t}\` is not installed on the node`);
  const freeKb = Number(f.free_kb);
  if (Number.isFinite(freeKb) && f.free_kb !== '' && freeKb * 1024 < needBytes * 2) {
    problems.push(
      `not enough space for the agent: ${mib(needBytes * 2)} needed in ${f.free_dir || INSTALL_ROOT}, ${mib(freeKb * 1024)} free`,
    );
  }
  let installed: InstalledRecord | null = null;
  if (f.installed) {
    try {
      const r = JSON.parse(f.installed) as Partial<InstalledRecord>;
      if (typeof r.version === 'string' && typeof r.build === 'string' && typeof r.runtime === 'string')
        installed = { version: r.version, build: r.build, runtime: r.runtime };
    } catch {
      notes.push(`${REMOTE.record} is not JSON: the install replaces it`);
    }
  }
  return { problems, notes, installed };
}

function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(0)} MiB`;
}
