/**
 * The bypass and the fleet-wide CLI on a three-node local JuiceFS fleet (core/src/testnode/
 * fleet.ts), through the built CLI as a user runs it (`--node a,b,c`). Proves: `attach bypass`
 * on all three at once; a file written on node 1 reads byte-identical on nodes 0 and 2 while
 * the bypass is attached everywhere; node 0 (its own daemon and Redis pair, all on one host)
 * redirects, while the members, whose every JuiceFS connection goes to node 0 over the fleet
 * network, redirect nothing and count their connections as skipped-remote; `profile` writes one
 * file per node; a node lost in the
 * middle of a fleet command is reported with its reason while the others finish; after detach
 * nothing of ours is left in the kernel.
 */

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli';
import { bpfPrograms, waitFor } from '../support/kernel';
import { cmdlineOf, procText } from '../support/procfs';

const PREFIX = 'dfsitfb';
const NAMES = [0, 1, 2].map((i) => `${PREFIX}${i}`);
const ALL = NAMES.join(',');
const mountOf = (n: string): string => `/mnt/dfs-ebpf/${n}`;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface PerNode {
  name: string;
  ok: boolean;
  error?: string;
  code?: string;
  bypass?: {
    attached: boolean;
    redirected_msgs: number;
    redirected_bytes: number;
    sockets_skipped: number;
    remote_left_at_attach: number;
    endpoints: { host: string; port: number }[];
  };
}

async function fleet(args: string[], expectOk = true): Promise<PerNode[]> {
  const r = await runCli([...args, '--json']);
  const doc = JSON.parse(r.stdout || '{"nodes":[]}') as { nodes: PerNode[] };
  if (expectOk) assert.equal(r.code, 0, `dfs-ebpf ${args.join(' ')}: ${r.stderr}\n${r.stdout}`);
  assert.deepEqual(
    doc.nodes.map((n) => n.name),
    NAMES,
    'one result per node, in the order given',
  );
  return doc.nodes;
}

/** Reads a file another node wrote until it is complete (JuiceFS's 1 s entry/attr cache), ≤ 5 s. */
async function readFresh(file: string, length: number): Promise<Buffer> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      const data = readFileSync(file);
      if (data.length === length || Date.now() > deadline) return data;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || Date.now() > deadline) throw e;
    }
    await sleep(200);
  }
}

/** Ids of the bypass programs the kernel holds (other tests' may be there: compared by id). */
const bypassProgramsLoaded = (): number[] =>
  bpfPrograms()
    .filter((p) => p.name?.startsWith('bypass_'))
    .map((p) => p.id);

before(async () => {
  const r = await runCli(['node', 'up', '--count', '3', '--name', PREFIX]);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await runCli(['detach', 'bypass', '--node', ALL]);
  await runCli(['node', 'down', '--all', '--name', PREFIX]);
});

test(
  'attach on the fleet: data identical everywhere, node 0 redirects, members skip remote',
  { timeout: 300_000 },
  async () => {
    const before = new Set(bypassProgramsLoaded());
    const attached = await fleet(['attach', 'bypass', '--node', ALL]);
    for (const n of attached) assert.equal(n.bypass?.attached, true, `${n.name}: ${n.error ?? ''}`);

    const data = randomBytes(8 << 20);
    const file = `fleet-bypass-${process.pid}.bin`;
    writeFileSync(join(mountOf(NAMES[1]!), file), data);
    for (const reader of [NAMES[0]!, NAMES[2]!]) {
      const got = await readFresh(join(mountOf(reader), file), data.length);
      assert.equal(sha256(got), sha256(data), `${reader} reads what ${NAMES[1]} wrote`);
    }
    // Node 0's own daemon works its local Redis pair through the bypass.
    const local = randomBytes(4 << 20);
    writeFileSync(join(mountOf(NAMES[0]!), `${file}.0`), local);
    assert.equal(sha256(await readFresh(join(mountOf(NAMES[2]!), `${file}.0`), local.length)), sha256(local));

    const st = await fleet(['status', '--node', ALL]);
    const [n0, n1, n2] = st;
    assert.ok((n0?.bypass?.redirected_bytes ?? 0) > 4 << 20, `node 0 redirected ${n0?.bypass?.redirected_bytes} bytes`);
    for (const m of [n1, n2]) {
      const b = m?.bypass;
      assert.ok(b, `${m?.name} has bypass status`);
      assert.equal(b.redirected_msgs, 0, `${m?.name}: nothing redirected to a remote peer`);
      assert.ok(
        b.sockets_skipped + b.remote_left_at_attach > 0,
        `${m?.name} skipped its remote connections: ${b.sockets_skipped} at connect, ${b.remote_left_at_attach} at attach`,
      );
      assert.ok(
        b.endpoints.some((e) => e.host.startsWith('10.214.0.')),
        `${m?.name}'s policy names node 0's fleet address: ${JSON.stringify(b.endpoints)}`,
      );
    }

    const detached = await fleet(['detach', 'bypass', '--node', ALL]);
    assert.ok(detached.every((n) => n.ok && n.bypass?.attached === false));
    await waitFor(
      () => bypassProgramsLoaded().filter((n) => !before.has(n)).length === 0,
      3000,
      'no bypass program of the fleet stays in the kernel',
    );
  },
);

test("profile on the fleet: one file per node, each its own node's", { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dfs-fleet-prof-'));
  try {
    const nodes = await fleet(['profile', '--node', ALL, '--duration', '2', '--out', join(dir, 'prof.json')]);
    for (const n of nodes as (PerNode & { out?: string })[]) {
      assert.equal(n.out, join(dir, `prof-${n.name}.json`), `${n.name}: ${n.error ?? ''}`);
      const prof = JSON.parse(readFileSync(n.out, 'utf8')) as { duration_s: number; node?: { name?: string } };
      assert.ok(prof.duration_s >= 1.5, `${n.name} profiled ${prof.duration_s} s`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a node lost in the middle of a fleet command is reported; the others finish', { timeout: 300_000 }, async () => {
  // A 5 s fleet profile; once node 2's agent is serving it, everything node 2's SSH user runs
  // (sshd session, sudo, the agent) and its listening sshd are killed: node 2 is lost in the
  // middle of the command, whatever the machine's speed, and the other two finish.
  const status = await runCli(['node', 'status', '--name', NAMES[2]!, '--json']);
  const cgroup = (JSON.parse(status.stdout) as { cgroup: string }).cgroup;
  const procs = (): number[] =>
    readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  const agentServing = (): boolean =>
    procs().some((pid) => procText(pid, 'comm').trim() === 'node' && cmdlineOf(pid).includes('--stdio'));
  const dir = mkdtempSync(join(tmpdir(), 'dfs-fleet-lost-'));
  try {
    const run = runCli(['profile', '--node', ALL, '--duration', '5', '--out', join(dir, 'p.json'), '--json']);
    await waitFor(agentServing, 30_000, "node 2's agent serving the fleet profile");
    for (const pid of procs().filter((p) => /^(sshd|sudo|node|sh)$/.test(procText(p, 'comm').trim()))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    const r = await run;
    assert.equal(r.code, 1, `a failed node makes the exit code non-zero: ${r.stdout}`);
    const nodes = (JSON.parse(r.stdout) as { nodes: PerNode[] }).nodes;
    const [a, b, c] = nodes;
    assert.equal(a?.ok, true, a?.error);
    assert.equal(b?.ok, true, b?.error);
    assert.equal(c?.ok, false);
    assert.match(`${c?.error} [${c?.code}]`, /\[(ConnectionLost|NodeUnreachable|AgentUnavailable)\]/);
    assert.match(r.stderr, /1 of 3 nodes failed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Repair the fleet: node up puts node 2's sshd back.
  const again = await runCli(['node', 'up', '--count', '3', '--name', PREFIX]);
  assert.equal(again.code, 0, again.stderr);
});
