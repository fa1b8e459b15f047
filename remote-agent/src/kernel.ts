/**
 * What this kernel can do, probed at runtime (never inferred from version numbers):
 * program and map types through libbpf's probes, BTF, the cgroup v2 mount, the kprobe and
 * uprobe PMUs, and, by loading tiny probe objects (bpf/probes/, never attached), tp_btf and
 * trampoline programs (fentry), which some vendor kernels refuse with EPERM before
 * verification. The result is part of `agent/initialize`.
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { release, machine } from 'node:os';
import type { FeatureReport, KernelFeature } from '@dfs/protocol';
import type { Addon } from './native';

/** The cgroup2 mount point (/sys/fs/cgroup on pure v2, /sys/fs/cgroup/unified on hybrid), or null. */
export function cgroup2Root(mounts: string = readFileSync('/proc/mounts', 'utf8')): string | null {
  for (const line of mounts.split('\n')) {
    const f = line.split(' ');
    if (f[2] === 'cgroup2' && f[1]) return f[1];
  }
  return null;
}

export function kernelInfo(): { release: string; machine: string } {
  return { release: release(), machine: machine() };
}

function probeResult(name: KernelFeature, r: number, what: string): FeatureReport {
  if (r === 1) return { name, supported: true, detail: `${what} loads` };
  if (r === 0) return { name, supported: false, detail: `${what} is not supported by this kernel` };
  return { name, supported: false, detail: `${what} probe failed (errno ${-r})` };
}

/** Load (never attach) a probe object from the bundle; supported when the kernel accepts it. */
function probeByLoad(addon: Addon, name: KernelFeature, file: string): FeatureReport {
  let obj;
  try {
    obj = addon.openObject(readFileSync(file), { name, logLevel: 0, logSize: 0 });
  } catch (err) {
    return { name, supported: false, detail: `probe object unusable: ${(err as Error).message.split('\n')[0]}` };
  }
  try {
    const res = obj.load();
    if (res.errno === 0) return { name, supported: true, detail: `a ${name} program loads` };
    if (res.errno === 1)
      return { name, supported: false, detail: `the kernel refuses ${name} programs (EPERM before verification)` };
    return { name, supported: false, detail: `loading a ${name} program fails with errno ${res.errno}` };
  } finally {
    obj.close();
  }
}

export function probeFeatures(addon: Addon, probeDir: string): FeatureReport[] {
  const prog = (name: KernelFeature, type: string): FeatureReport =>
    probeResult(name, addon.probeProgType(type), `program type ${type}`);
  const map = (name: KernelFeature, type: string): FeatureReport =>
    probeResult(name, addon.probeMapType(type), `map type ${type}`);
  const cg = cgroup2Root();
  const pmu = (name: KernelFeature, dev: string): FeatureReport =>
    existsSync(`/sys/bus/event_source/devices/${dev}`)
      ? { name, supported: true, detail: `${dev} PMU present` }
      : {
          name,
          supported: false,
          detail: `no ${dev} PMU (/sys/bus/event_source/devices/${dev}); kernel built without it`,
        };
  return [
    existsSync('/sys/kernel/btf/vmlinux')
      ? { name: 'btf', supported: true, detail: '/sys/kernel/btf/vmlinux present' }
      : { name: 'btf', supported: false, detail: 'no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF off)' },
    cg
      ? { name: 'cgroup_v2', supported: true, detail: `cgroup2 mounted at ${cg}` }
      : { name: 'cgroup_v2', supported: false, detail: 'no cgroup2 mount in /proc/mounts' },
    map('sockhash', 'sockhash'),
    prog('sock_ops', 'sock_ops'),
    prog('sk_msg', 'sk_msg'),
    prog('tracepoint', 'tracepoint'),
    prog('raw_tp', 'raw_tracepoint'),
    probeByLoad(addon, 'tp_btf', join(probeDir, 'tp_btf.bpf.o')),
    map('ringbuf', 'ringbuf'),
    pmu('uprobe', 'uprobe'),
    pmu('kprobe', 'kprobe'),
    probeByLoad(addon, 'fentry', join(probeDir, 'fentry.bpf.o')),
  ];
}

/** Features the bypass needs, with the first missing one explained. */
export const BYPASS_FEATURES: KernelFeature[] = ['cgroup_v2', 'sockhash', 'sock_ops', 'sk_msg'];
