/**
 * Integration test of a local JuiceFS fleet (core/src/testnode/fleet.ts) through the built CLI,
 * everything real: three netns with their veths, the fleet netns with its bridge, cgroups,
 * sshd, node 0's two Redis servers, JuiceFS 1.4.2 on all three, the real agent bundle
 * (dist/agent: run `npm run build` first). Needs root. Proves: `node up --count 3` gives one
 * volume that node 0 holds and both members mount over the fleet network, with no Redis of
 * their own and the password only in JuiceFS's environment; a file closed on node 1 reads
 * byte-identical on nodes 0 and 2 (and one closed on node 0 on node 2); the members' SSH users
 * may use the shared volume; nothing of the fleet is in the host's netns; `node status --all
 * --json` lists the three with their roles; a second `up --count 3` changes nothing; node 0
 * refuses to go down under its members; `node down --all` leaves no netns (the fleet's
 * included), veth, bridge, mount, process, cgroup, user or state.
 *
 * The fleet uses its own prefix and `--all` is always given `--name PREFIX` (that fleet only):
 * other test files' nodes may be up on this machine meanwhile, and a bare `--all` would take
 * them down too. Which nodes a bare `--all` takes is unit-tested (test/unit/fleet-plan.test.ts).
 *
 * The one retry: reading another node's fresh file. Close-to-open consistency makes a complete
 * file visible once it is closed, but a reader's kernel may hold the name's entry or the file's
 * attributes for JuiceFS's 1 s entry/attribute cache (fleet.ts explains the choice), so a read
 * that finds no file or a short one is retried, for at most 5 s; different bytes fail at once.
 */

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli';
import { allPids, cmdlineOf, procText } from '../support/procfs';
import { repoRoot } from '../support/repo';

const PREFIX = 'dfsflt';
const NAMES = [0, 1, 2].map((i) => `${PREFIX}${i}`);
const FLEET_NETNS = `${PREFIX}0-fleet`;
const TIMEOUT = 10 * 60_000;
const serverDir = (n: string): string => `/var/lib/dfs-ebpf/nodes/${n}`;
const mountOf = (n: string): string => `/mnt/dfs-ebpf/${n}`;

const tmp = mkdtempSync(join(tmpdir(), 'dfs-fleet-'));

interface NodeDoc {
  name: string;
  ssh: string;
  juicefs: { mountpoint: string; version: string; meta: string; bucket: string; volume: string };
  cgroup: string;
  fleet?: { role: 'node0' | 'member'; node0: string; address: string };
  up?: boolean;
  components?: { name: string; ok: boolean; detail: string }[];
}

async function cliJson(args: string[]): Promise<{ nodes: NodeDoc[] }> {
  const r = await runCli([...args, '--json']);
  assert.equal(r.code, 0, `dfs-ebpf ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as { nodes: NodeDoc[] };
}

function sh(file: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Reads `file` until it has `want`'s length (metadata cache, see the header), ≤ 5 s; returns what it read. */
async function readFresh(file: string, want: Buffer): Promise<{ data: Buffer; tries: number }> {
  const deadline = Date.now() + 5000;
  for (let tries = 1; ; tries++) {
    let data: Buffer | undefined;
    try {
      data = readFileSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if ((data && data.length === want.length) || Date.now() >= deadline)
      return { data: data ?? Buffer.alloc(0), tries };
    await sleep(200);
  }
}

const daemonPid = (n: string): number =>
  (JSON.parse(readFileSync(join(mountOf(n), '.config'), 'utf8')) as { Pid: number }).Pid;
const pidIn = (file: string): number => Number(readFileSync(file, 'utf8').trim());
/** Every service PID of the node (node 0 has Redis; members do not). */
function servicePids(n: string): Record<string, number> {
  const out: Record<string, number> = {
    sshd: pidIn(join(serverDir(n), 'run', 'sshd.pid')),
    juicefs: pidIn(join(serverDir(n), 'run', 'juicefs.pid')),
    daemon: daemonPid(n),
  };
  for (const r of ['redis-meta', 'redis-object']) {
    const f = join(serverDir(n), r, 'redis.pid');
    if (existsSync(f)) out[r] = pidIn(f);
  }
  return out;
}
const cgroupProcs = (cg: string): number[] =>
  readFileSync(join(cg, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
const comm = (pid: number): string => procText(pid, 'comm').trim();
const passwdEntry = (user: string): string[] | undefined =>
  readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[0] === user);
interface IpLink {
  ifname: string;
  master?: string;
  addr_info?: { family: string; local: string }[];
}
const ipLinks = (netns?: string): IpLink[] =>
  JSON.parse(sh('ip', [...(netns ? ['-n', netns] : []), '-j', 'addr', 'show']).stdout || '[]') as IpLink[];
const mounted = (mp: string): boolean =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === mp);
/** Established TCP peers ("a.b.c.d:port") of a process, from its netns's /proc/PID/net/tcp. */
function tcpPeers(pid: number): string[] {
  const hexAddr = (h: string): string => {
    const [ip = '', port = ''] = h.split(':');
    const octets = (ip.match(/../g) ?? []).map((x) => parseInt(x, 16)).reverse();
    return `${octets.join('.')}:${parseInt(port, 16)}`;
  };
  return procText(pid, 'net/tcp')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[3] === '01' && f[2])
    .map((f) => hexAddr(f[2] ?? ''));
}

void describe('local fleet', { timeout: TIMEOUT }, () => {
  let nodes: NodeDoc[] = [];
  let pidsAfterUp: Record<string, Record<string, number>> = {};

  before(async () => {
    assert.equal(process.getuid?.(), 0, 'this integration test needs root');
    assert.ok(existsSync(join(repoRoot(), 'dist', 'cli', 'main.js')), 'run npm run build first');
    // Client-side state goes to a private XDG_STATE_HOME (the CLI inherits our environment).
    process.env.XDG_STATE_HOME = join(tmp, 'state');
    const r = await runCli(['node', 'down', '--all', '--name', PREFIX]); // a previous run that died half-way
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    try {
      await runCli(['node', 'down', '--all', '--name', PREFIX]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  void it('up --count 3 brings up node 0 and two members mounting its volume', { timeout: TIMEOUT }, async (t) => {
    const t0 = Date.now();
    ({ nodes } = await cliJson(['node', 'up', '--count', '3', '--name', PREFIX]));
    t.diagnostic(`first up of 3 nodes: ${Date.now() - t0} ms`);
    assert.deepEqual(
      nodes.map((n) => n.name),
      NAMES,
    );
    const [n0, ...members] = nodes;
    assert.ok(n0?.fleet);
    assert.deepEqual(n0.fleet, { role: 'node0', node0: NAMES[0], address: n0.fleet.address });
    assert.match(n0.fleet.address, /^10\.214\.0\.\d+$/);
    assert.equal(n0.juicefs.meta, 'redis://127.0.0.1:6379/1', 'node 0 keeps its loopback');
    assert.equal(n0.juicefs.bucket, 'redis://127.0.0.1:6380/0');
    for (const m of members) {
      assert.equal(m.fleet?.role, 'member');
      assert.equal(m.fleet.node0, NAMES[0]);
      assert.equal(m.juicefs.meta, `redis://${n0.fleet.address}:6379/1`);
      assert.equal(m.juicefs.bucket, `redis://${n0.fleet.address}:6380/0`);
      assert.equal(m.juicefs.mountpoint, mountOf(m.name));
    }
    assert.equal(new Set(nodes.map((n) => n.fleet?.address)).size, 3, 'distinct fleet addresses');
    for (const n of nodes) {
      assert.equal(n.juicefs.volume, NAMES[0], `${n.name} mounts node 0's volume`);
      assert.ok(mounted(mountOf(n.name)), `${n.name} mounted`);
    }
    pidsAfterUp = Object.fromEntries(NAMES.map((n) => [n, servicePids(n)]));
  });

  void it('members run no Redis and reach node 0 only over the fleet network, password in no argv', () => {
    const [n0] = nodes;
    const addr0 = n0?.fleet?.address ?? '';
    const pw = readFileSync(join(serverDir(NAMES[0] ?? ''), 'redis.password'), 'utf8').trim();
    for (const m of nodes.slice(1)) {
      const procs = cgroupProcs(m.cgroup);
      assert.deepEqual(
        procs.filter((pid) => /redis/.test(comm(pid))),
        [],
        `${m.name} runs a Redis`,
      );
      assert.ok(!existsSync(join(serverDir(m.name), 'redis-meta')), `${m.name} has Redis state`);
      const copy = join(serverDir(m.name), 'fleet.password');
      assert.equal(statSync(copy).uid, 0);
      assert.equal(statSync(copy).mode & 0o777, 0o600);
      assert.equal(readFileSync(copy, 'utf8').trim(), pw);
      const daemon = daemonPid(m.name);
      assert.ok(procs.includes(daemon), `${m.name}'s JuiceFS daemon is in its cgroup`);
      assert.ok(procText(daemon, 'environ').split('\0').includes(`META_PASSWORD=${pw}`));
      assert.match(cmdlineOf(daemon), new RegExp(`--bucket redis://${addr0.replace(/\./g, '\\.')}:6380/0`));
      const peers = tcpPeers(daemon);
      for (const port of [6379, 6380])
        assert.ok(peers.includes(`${addr0}:${port}`), `${m.name} -> ${port}: ${peers.join(' ')}`);
      assert.ok(
        peers.every((p) => p.startsWith(`${addr0}:`) || p.startsWith('127.0.0.1:')),
        `${m.name} talks only to node 0: ${peers.join(' ')}`,
      );
    }
    for (const pid of allPids()) assert.ok(!cmdlineOf(pid).includes(pw), `pid ${pid} has the password in its argv`);
    // Nothing of the fleet network in the host's netns; the fleet netns holds the bridge and the three ports only.
    for (const l of ipLinks()) {
      assert.doesNotMatch(l.ifname, /^(vf|vb)-/, `host has ${l.ifname}`);
      for (const a of l.addr_info ?? []) assert.doesNotMatch(a.local, /^10\.214\./, `host has ${a.local}`);
    }
    const fleetLinks = ipLinks(FLEET_NETNS);
    assert.deepEqual(fleetLinks.map((l) => l.ifname).sort(), ['br0', 'lo', ...NAMES.map((n) => `vb-${n}`)].sort());
    for (const n of NAMES) assert.equal(fleetLinks.find((l) => l.ifname === `vb-${n}`)?.master, 'br0');
    assert.ok(
      fleetLinks.every((l) => !(l.addr_info ?? []).some((a) => a.family === 'inet')),
      'the fleet netns has no IPv4 address (IPv6 link-local ones are the kernel default)',
    );
  });

  void it('a file closed on node 1 reads byte-identical on nodes 0 and 2, and back', async (t) => {
    const [m0, m1, m2] = NAMES.map(mountOf);
    const data = randomBytes(4 * 1024 * 1024 + 4099);
    writeFileSync(join(m1 ?? '', 'from-node1.bin'), data); // closed when writeFileSync returns
    for (const mp of [m0, m2]) {
      const { data: back, tries } = await readFresh(join(mp ?? '', 'from-node1.bin'), data);
      t.diagnostic(`${mp}: ${tries} read(s)`);
      assert.equal(back.length, data.length, `${mp}: length`);
      assert.equal(sha256(back), sha256(data), `${mp}: content`);
    }
    const other = randomBytes(3 * 1024 * 1024 + 1);
    writeFileSync(join(m0 ?? '', 'from-node0.bin'), other);
    const { data: back } = await readFresh(join(m2 ?? '', 'from-node0.bin'), other);
    assert.equal(sha256(back), sha256(other), 'node 0 -> node 2');
  });

  void it("every fleet node's SSH user may use the shared volume; other users may not", () => {
    for (const n of NAMES) {
      const user = passwdEntry(`dfs-${n}`);
      assert.ok(user, `user dfs-${n}`);
      const file = join(mountOf(n), `by-${n}`);
      const r = sh('setpriv', [
        `--reuid=${user[2]}`,
        `--regid=${user[3]}`,
        '--init-groups',
        'sh',
        '-c',
        `echo ${n} > ${file}`,
      ]);
      assert.equal(r.code, 0, `${n}: ${r.stderr}`);
    }
    const nobody = passwdEntry('nobody');
    assert.ok(nobody);
    const denied = sh('setpriv', [
      `--reuid=${nobody[2]}`,
      `--regid=${nobody[3]}`,
      '--clear-groups',
      'ls',
      mountOf(NAMES[1] ?? ''),
    ]);
    assert.notEqual(denied.code, 0, 'nobody listed the shared volume');
  });

  void it('status --all --json lists the three nodes with their roles, every part ok', async () => {
    const { nodes: st } = await cliJson(['node', 'status', '--all', '--name', PREFIX]);
    // Members first (the order down takes them in).
    assert.deepEqual(
      st.map((n) => [n.name, n.fleet?.role]),
      [
        [NAMES[1], 'member'],
        [NAMES[2], 'member'],
        [NAMES[0], 'node0'],
      ],
    );
    for (const n of st) {
      assert.equal(n.up, true, n.name);
      const names = (n.components ?? []).map((c) => c.name);
      assert.deepEqual(names, ['netns', 'fleet', 'cgroup', 'sshd', 'redis-meta', 'redis-object', 'juicefs', 'agent']);
      for (const c of n.components ?? []) assert.ok(c.ok, `${n.name} ${c.name}: ${c.detail}`);
      assert.deepEqual(
        { ...n, up: undefined, components: undefined },
        { ...nodes.find((x) => x.name === n.name), up: undefined, components: undefined },
        'status prints what up printed',
      );
    }
  });

  void it('a second up --count 3 changes nothing', { timeout: TIMEOUT }, async (t) => {
    const t0 = Date.now();
    const r = await runCli(['node', 'up', '--count', '3', '--name', PREFIX, '--json', '--verbose']);
    t.diagnostic(`second up: ${Date.now() - t0} ms`);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { nodes: NodeDoc[] }).nodes, nodes);
    const steps = r.stderr.split('\n').filter((l) => l.startsWith('… '));
    assert.deepEqual(steps, [], 'a second up must have nothing to do');
    // Nor change anything quietly: no interface, address, Redis setting or group is touched.
    const changes = r.stderr
      .split('\n')
      .filter((l) => / link (add|set|del) | addr (replace|add) |config set|usermod|useradd/.test(l));
    assert.deepEqual(changes, []);
    assert.deepEqual(Object.fromEntries(NAMES.map((n) => [n, servicePids(n)])), pidsAfterUp);
  });

  void it('node 0 refuses to go down under its members', async () => {
    const r = await runCli(['node', 'down', '--name', NAMES[0] ?? '']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`members ${NAMES[1]}, ${NAMES[2]} mount its volume`));
    assert.match(r.stderr, new RegExp(`node down --all --name ${PREFIX}`));
    assert.ok(mounted(mountOf(NAMES[0] ?? '')), 'node 0 is still mounted');
    assert.deepEqual(servicePids(NAMES[0] ?? ''), pidsAfterUp[NAMES[0] ?? '']);
  });

  void it('down --all leaves nothing of the fleet behind', { timeout: TIMEOUT }, async (t) => {
    const pids = NAMES.flatMap((n) => [
      ...Object.values(servicePids(n)),
      ...cgroupProcs(nodes.find((x) => x.name === n)?.cgroup ?? ''),
    ]);
    const t0 = Date.now();
    const { nodes: down } = await cliJson(['node', 'down', '--all', '--name', PREFIX]);
    t.diagnostic(`down --all: ${Date.now() - t0} ms`);
    assert.deepEqual(
      down.map((n) => n.name),
      [NAMES[1], NAMES[2], NAMES[0]],
      'members first',
    );
    const netns = existsSync('/run/netns') ? readdirSync('/run/netns') : [];
    for (const ns of [...NAMES, FLEET_NETNS]) assert.ok(!netns.includes(ns), `netns ${ns}`);
    for (const l of ipLinks()) assert.ok(!NAMES.some((n) => l.ifname.includes(n)), `interface ${l.ifname}`);
    for (const n of nodes) {
      assert.ok(!mounted(mountOf(n.name)), `mount ${n.name}`);
      assert.ok(!existsSync(mountOf(n.name)), `mountpoint ${n.name}`);
      assert.ok(!existsSync(n.cgroup), `cgroup ${n.cgroup}`);
      assert.ok(!existsSync(serverDir(n.name)), `server state ${n.name}`);
      assert.ok(!existsSync(`/etc/sudoers.d/dfs-ebpf-${n.name}`), `sudo rule ${n.name}`);
      assert.equal(passwdEntry(`dfs-${n.name}`), undefined, `user dfs-${n.name}`);
      assert.equal(passwdEntry(`dfs-${n.name}-redis`), undefined, `user dfs-${n.name}-redis`);
    }
    assert.ok(
      !readFileSync('/etc/group', 'utf8')
        .split('\n')
        .some((l) => NAMES.some((n) => l.startsWith(`dfs-${n}`))),
      'groups',
    );
    assert.ok(!existsSync(join(tmp, 'state', 'dfs-ebpf', 'nodes')), 'client state');
    for (const pid of pids) {
      const cg = procText(pid, 'cgroup');
      const state = procText(pid, 'stat').split(') ')[1]?.[0];
      assert.ok(cg === '' || state === 'Z' || !NAMES.some((n) => cg.includes(`/dfs-ebpf/${n}`)), `pid ${pid} survived`);
    }
    const again = await cliJson(['node', 'down', '--all', '--name', PREFIX]);
    assert.deepEqual(again.nodes, [], 'a second down --all finds nothing');
    const st = await cliJson(['node', 'status', '--all', '--name', PREFIX]);
    assert.deepEqual(st.nodes, []);
  });
});
