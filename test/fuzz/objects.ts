// The long damaged-object fuzz run, outside CI: `npm run build && npm run fuzz:objects -- [options]`
//   --count N        damaged objects through one agent's bpf/verify (default 20000)
//   --btf-lines N    damaged objects straight through core's btfLineInfo, in process (default 200000)
//   --attach N       damaged bypass objects through bypass/attach on local node --node (default 0)
//   --node NAME      a local test node that is up (for --attach)
//   --seed S         replay a run (default: time-based, printed)
// Prints figures: inputs/s, agent crashes (the connection died), loader crashes the sandbox
// caught, hangs, uncoded answers, the coded answers by code, and the agent's RSS at start and
// end. Exits non-zero when any crash, hang or uncoded answer occurred. Runs as root (the agent
// loads BPF); the verify agent runs in an empty network namespace, as in the integration tests.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InitializeRequest, PROTOCOL_VERSION } from '../../protocol/src';
import { AgentClient } from '../../core/src/agent/client';
import { btfLineInfo } from '../../core/src/verifier/btfLines';
import { mutate } from '../support/damage';
import { baseObjects, caseRng, fuzzAttach, fuzzVerify, rssMiB, type FuzzStats } from '../support/fuzzObjects';
import { openSession } from '../support/node';
import { bpfFdsOf, childrenOf } from '../support/procfs';
import { repoRoot } from '../support/repo';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} takes a non-negative integer`);
  return v;
}

const say = (s: string): boolean => process.stdout.write(s + '\n');

function report(what: string, stats: FuzzStats, seconds: number): boolean {
  say(`${what}: ${stats.summary()}`);
  say(`${what}: ${(stats.inputs / seconds).toFixed(1)} inputs/s over ${seconds.toFixed(0)} s`);
  for (const [code, example] of stats.examples) say(`  e.g. ${code}: ${example.slice(0, 300)}`);
  for (const f of stats.failures) {
    say(`  FAILED #${f.index} ${f.base} (${f.mutation}): ${f.outcome.kind} ${f.outcome.message ?? ''}`);
  }
  return stats.count('uncoded') + stats.count('lost') + stats.count('hang') === 0 && stats.btfLinesThrew === 0;
}

async function main(): Promise<number> {
  const seed = option('seed', Date.now() % 1_000_000) >>> 0;
  const count = option('count', 20_000);
  const btfCount = option('btf-lines', 200_000);
  const attach = option('attach', 0);
  const nodeAt = process.argv.indexOf('--node');
  const node = nodeAt >= 0 ? process.argv[nodeAt + 1] : undefined;
  say(`seed ${seed} (replay: --seed ${seed})`);
  const bases = baseObjects();
  let ok = true;

  // 1. In process: core's BTF line reader, the CLI's fallback for source lines.
  const t0 = Date.now();
  let threw = 0;
  for (let i = 0; i < btfCount; i++) {
    const rng = caseRng(seed, 1_000_000 + i);
    const m = mutate(rng.pick(bases).bytes, rng);
    try {
      btfLineInfo(
        m.bytes,
        rng.pick(['sockops', 'sk_msg', '.text', 'tracepoint/syscalls/sys_enter_read']),
        'bypass_sockops',
      );
    } catch (err) {
      if (threw++ < 5) say(`  btfLineInfo threw on #${1_000_000 + i} (${m.kind}: ${m.what}): ${String(err)}`);
    }
  }
  const btfSeconds = (Date.now() - t0) / 1000;
  if (btfCount > 0) {
    say(`btfLineInfo: ${btfCount} inputs, threw ${threw}, ${(btfCount / btfSeconds).toFixed(0)} inputs/s`);
  }
  ok &&= threw === 0;

  // 2. One agent's bpf/verify, in an empty network namespace.
  if (count > 0) {
    const agent = spawn('unshare', ['--net', process.execPath, join(repoRoot(), 'dist/agent/agent.js'), '--stdio'], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    const client = new AgentClient(agent.stdout, agent.stdin);
    try {
      const info = await client.request(InitializeRequest, { client: 'fuzz', protocolVersion: PROTOCOL_VERSION });
      const rssStart = rssMiB(info.agentPid);
      const t1 = Date.now();
      const stats = await fuzzVerify(client, bases, {
        seed,
        count,
        concurrency: 3,
        onProgress: (s) => {
          if (s.inputs % 1000 === 0)
            say(
              `  ${s.inputs}/${count} (${((Date.now() - t1) / 1000).toFixed(0)} s, agent RSS ${rssMiB(info.agentPid)} MiB)`,
            );
        },
      });
      const seconds = (Date.now() - t1) / 1000;
      ok = report('bpf/verify', stats, seconds) && ok;
      const again = await client.request(InitializeRequest, { client: 'fuzz', protocolVersion: PROTOCOL_VERSION });
      say(
        `bpf/verify: agent pid ${info.agentPid} → ${again.agentPid}; RSS ${rssStart} MiB at start, ${rssMiB(info.agentPid)} MiB at end; ` +
          `BPF fds held after: ${bpfFdsOf(info.agentPid).length}; sandbox children left: ${childrenOf(info.agentPid).length}`,
      );
      ok &&= again.agentPid === info.agentPid && bpfFdsOf(info.agentPid).length === 0;
    } finally {
      agent.kill('SIGKILL');
    }
  }

  // 3. bypass/attach on a local node.
  if (attach > 0) {
    if (!node) throw new Error('--attach needs --node NAME (a local test node that is up)');
    const session = await openSession(node);
    try {
      const pid = session.info.agentPid;
      const rssStart = rssMiB(pid);
      const t2 = Date.now();
      const bypass = readFileSync(join(repoRoot(), 'build/bpf/bypass.bpf.o'));
      const stats = await fuzzAttach(session, bypass, {
        seed,
        first: 2_000_000,
        count: attach,
        onProgress: (s) => {
          if (s.inputs % 100 === 0)
            say(`  ${s.inputs}/${attach} (${((Date.now() - t2) / 1000).toFixed(0)} s, agent RSS ${rssMiB(pid)} MiB)`);
        },
      });
      ok = report('bypass/attach', stats, (Date.now() - t2) / 1000) && ok;
      say(
        `bypass/attach: agent RSS ${rssStart} MiB at start, ${rssMiB(pid)} MiB at end; BPF fds held after: ${bpfFdsOf(pid).length}`,
      );
      ok &&= bpfFdsOf(pid).length === 0;
    } finally {
      session.close();
    }
  }
  say(ok ? 'no crash, hang or uncoded answer' : 'FAILED: see above');
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`fuzz-objects: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
