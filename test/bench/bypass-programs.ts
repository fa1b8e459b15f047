// Benchmark (not a test): the cost of the bypass program itself, old vs new, on a local test
// node. It compares, interleaved and with the order rotating every round:
//   off         no bypass
//   old         the program before the stub structure (test/fixtures/bpf/bypass/old_shape.bpf.c:
//               the attached sk_msg program redirects itself, atomic counters)
//   new         bpf/bypass.bpf.c as the agent attaches it (stub → tail call → bypass_redirect,
//               plain per-CPU counters)
//   new-direct  bypass_redirect attached to the sockhash directly (no stub, no tail call): what
//               the per-message work costs without the ownership structure
// Each side is attached here with the addon (the agent refuses the old shape), sock_ops on the
// node's cgroup and sk_msg on the sockhash, with 127.0.0.1:6379 as the policy; the workload is
// core's redis-small (redis-benchmark SET+GET, 16 B, 50 clients, inside the node's netns and
// cgroup), whose connections are made after the attach. Throughput ratios are medians of the
// per-round ratios (each round runs every side back to back). With --prog-stats the kernel's
// BPF run-time statistics (sysctl kernel.bpf_stats_enabled, host-wide, restored afterwards)
// give the program's own cost per message: run_time_ns / run_cnt of the attached sk_msg
// program, which includes the tail-called program. Prints one JSON document.
// Usage (root, after npm run build):
//   node out/test/bench/bypass-programs.js --node NAME [--rounds N] [--requests N] [--prog-stats]
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BYPASS_JUMP_REDIRECT, BYPASS_OBJECT, BYPASS_STATS_SIZE } from '../../protocol/src';
import { median, round3 } from '../../core/src/bench/stats';
import { redisSmall, type Sample } from '../../core/src/bench/workloads';
import { compileBpf } from '../../core/src/build/clang';
import { readLocalNode } from '../../core/src/testnode';
import { openBenchRedisAccess } from '../../core/src/testnode/benchAccess';
import type { Addon, BpfLink, BpfObject } from '../../remote-agent/src/native';
import { policyKey, policyValue } from '../../remote-agent/src/policy';
import { clearSockhash } from '../../remote-agent/src/sweep';
import { agentBundle } from '../support/node';
import { repoRoot } from '../support/repo';

type Variant = 'off' | 'old' | 'new' | 'new-direct';
const VARIANTS: Variant[] = ['off', 'old', 'new', 'new-direct'];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const addon = require(join(agentBundle(), 'dfs_bpf.node')) as Addon;

interface Attached {
  obj: BpfObject;
  links: BpfLink[];
}

function attach(elf: Buffer, variant: Exclude<Variant, 'off'>, cgroup: string): Attached {
  const obj = addon.openObject(elf, { name: `${variant}.bpf.o`, logLevel: 0, logSize: 0 });
  const res = obj.load();
  assert.equal(res.errno, 0, res.messages);
  addon.mapUpdate(obj.mapFd(BYPASS_OBJECT.policyMap), policyKey({ host: '127.0.0.1', port: 6379 }), policyValue(), 0);
  let skmsg: string = BYPASS_OBJECT.skmsgProgram;
  if (variant === 'new') {
    const slot = Buffer.alloc(4);
    slot.writeUInt32LE(BYPASS_JUMP_REDIRECT);
    const fd = Buffer.alloc(4);
    fd.writeUInt32LE(obj.programFd(BYPASS_OBJECT.redirectProgram));
    addon.mapUpdate(obj.mapFd(BYPASS_OBJECT.jumpMap), slot, fd, 0);
  } else if (variant === 'new-direct') {
    skmsg = BYPASS_OBJECT.redirectProgram;
  }
  const links = [
    obj.attachToMap(skmsg, BYPASS_OBJECT.sockhashMap, 'sk_msg_verdict'),
    obj.attachCgroup(BYPASS_OBJECT.sockopsProgram, cgroup),
  ];
  return { obj, links };
}

const STATS_SYSCTL = '/proc/sys/kernel/bpf_stats_enabled';

/** ns per run of the attached sk_msg program (bpftool's run_time_ns / run_cnt), or null. */
function nsPerRun(a: Attached, variant: Variant): number | null {
  const name = variant === 'new-direct' ? BYPASS_OBJECT.redirectProgram : BYPASS_OBJECT.skmsgProgram;
  const id = a.obj.programs().find((p) => p.name === name)?.id ?? 0;
  const info = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(id)], { encoding: 'utf8' })) as {
    run_time_ns?: number;
    run_cnt?: number;
  };
  return info.run_cnt ? info.run_time_ns! / info.run_cnt : null;
}

function redirected(a: Attached): number {
  const ncpu = addon.numPossibleCpus();
  const raw = addon.mapLookup(a.obj.mapFd(BYPASS_OBJECT.statsMap), Buffer.alloc(4), ncpu * BYPASS_STATS_SIZE);
  let sum = 0;
  for (let cpu = 0; raw && cpu < ncpu; cpu++) sum += Number(raw.readBigUInt64LE(cpu * BYPASS_STATS_SIZE));
  return sum;
}

function release(a: Attached): void {
  clearSockhash(addon, a.obj.mapFd(BYPASS_OBJECT.sockhashMap));
  for (const l of a.links.reverse()) l.destroy();
  a.obj.close();
}

async function main(): Promise<void> {
  const name = arg('node', 'dfsowb');
  const rounds = Number(arg('rounds', '6'));
  const requests = Number(arg('requests', '100000'));
  const local = readLocalNode(name);
  assert.ok(local, `local node ${name} is not up`);
  const node = { name: local.name, cgroup: local.cgroup, mountpoint: local.mountpoint };
  const work = mkdtempSync(join(tmpdir(), 'dfs-bench-programs-'));
  const build = async (source: string): Promise<Buffer> => {
    const r = await compileBpf(source, work, { includeDirs: [join(repoRoot(), 'bpf')] });
    assert.ok(r.ok, r.stderr);
    return readFileSync(r.object);
  };
  const elf = {
    old: await build(join(repoRoot(), 'test/fixtures/bpf/bypass/old_shape.bpf.c')),
    new: await build(join(repoRoot(), 'bpf/bypass.bpf.c')),
  };
  // redis-benchmark logs in as the bench's own Redis user (the node's password never goes in argv).
  const access = await openBenchRedisAccess({ name });
  const target = { port: 6379, user: access.user, password: access.password };
  const samples = new Map<Variant, Sample[]>(VARIANTS.map((v) => [v, []]));
  const progNs = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  const progStats = process.argv.includes('--prog-stats');
  const statsBefore = readFileSync(STATS_SYSCTL, 'utf8').trim();
  if (progStats) writeFileSync(STATS_SYSCTL, '1');
  try {
    for (let r = 0; r < rounds; r++) {
      const order = VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length] as Variant);
      for (const v of order) {
        let s: Sample;
        if (v === 'off') {
          s = await redisSmall(node, target, requests);
        } else {
          const a = attach(v === 'old' ? elf.old : elf.new, v, node.cgroup);
          try {
            s = await redisSmall(node, target, requests);
            assert.ok(redirected(a) > requests, `${v}: the workload went through the bypass`);
            const ns = progStats ? nsPerRun(a, v) : null;
            if (ns !== null) progNs.get(v)?.push(ns);
          } finally {
            release(a);
          }
        }
        samples.get(v)?.push(s);
        process.stderr.write(
          `round ${r + 1}/${rounds} ${v}: ${s.value.toFixed(0)} ops/s p50 ${s.p50_ms} p99 ${s.p99_ms}\n`,
        );
      }
    }
  } finally {
    if (progStats) writeFileSync(STATS_SYSCTL, statsBefore);
    await access.close();
  }
  const side = (v: Variant) => {
    const ss = samples.get(v) ?? [];
    return {
      ops_s: round3(median(ss.map((s) => s.value))),
      p50_ms: round3(median(ss.map((s) => s.p50_ms))),
      p99_ms: round3(median(ss.map((s) => s.p99_ms))),
      rounds: ss.map((s) => round3(s.value)),
      ...(progStats && v !== 'off' ? { prog_ns_per_msg: round3(median(progNs.get(v) ?? [])) } : {}),
    };
  };
  const result = Object.fromEntries(VARIANTS.map((v) => [v, side(v)]));
  /** Median over rounds of a's throughput over b's in the same round. */
  const ratio = (a: Variant, b: Variant): number => {
    const as = samples.get(a) ?? [];
    const bs = samples.get(b) ?? [];
    return round3(median(as.map((s, i) => s.value / (bs[i]?.value ?? NaN))));
  };
  process.stdout.write(
    JSON.stringify(
      {
        node: name,
        rounds,
        requests,
        workload: 'redis-small',
        ...result,
        new_over_old: ratio('new', 'old'),
        new_direct_over_old: ratio('new-direct', 'old'),
        new_over_new_direct: ratio('new', 'new-direct'),
        old_over_off: ratio('old', 'off'),
        new_over_off: ratio('new', 'off'),
      },
      null,
      2,
    ) + '\n',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
