// `dfs-ebpf bench maps` as DESIGN.md §7 says, run as a user would (the built CLI as root, a
// real local test node, bpftool): `--json` prints the contract keys first, for 100,000 entries,
// with positive times (figures, never judged: this is a benchmark, not a timed test), and the
// bench leaves nothing behind, neither when it ends nor when Ctrl-C stops it: its pin directory
// is gone and its map is freed (polled by id through the addon's id walk, which opens nothing,
// and then not listed by name by `maps list`). A node reached over SSH is refused before
// anything is loaded.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { nodeDown } from '../../core/src/testnode';
import type { Addon } from '../../remote-agent/src/native';
import { runCli } from '../support/cli';
import { agentBundle, upNode } from '../support/node';
import { repoRoot } from '../support/repo';

const NAME = 'dfsmapsbench';
const MAP_NAME = 'maps_bench';
const PIN_PREFIX = '/sys/fs/bpf/dfs-ebpf-bench-maps-';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const addon = (): Addon => require(join(agentBundle(), 'dfs_bpf.node')) as Addon;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Whether map `id` is gone within `ms`. The kernel frees it once its pins and the program that
 * uses it are gone; a sleepable program (the fill) is freed after an RCU-tasks-trace grace
 * period, so the id may outlive the unpinning by a moment.
 */
async function mapGone(id: number, ms = 5000): Promise<boolean> {
  for (const until = Date.now() + ms; Date.now() < until; await sleep(100)) {
    if (!addon().allMapIds().includes(id)) return true;
  }
  return !addon().allMapIds().includes(id);
}

async function mapsNamed(name: string): Promise<number[]> {
  const r = await runCli(['maps', 'list', '--json', '--node', NAME]);
  assert.equal(r.code, 0, r.stderr);
  const { maps } = JSON.parse(r.stdout) as { maps: { id: number; name: string }[] };
  return maps.filter((m) => m.name === name).map((m) => m.id);
}

before(async () => {
  await upNode(NAME);
});

after(async () => {
  await nodeDown({ name: NAME });
});

test(
  'bench maps --json: the contract keys for 100,000 entries, and nothing of the bench left',
  { timeout: 300_000 },
  async () => {
    const r = await runCli(['bench', 'maps', '--rounds', '1', '--json', '--node', NAME]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(doc).slice(0, 4), ['entries', 'ours_ms', 'bpftool_ms', 'ratio']);
    assert.equal(doc.entries, 100_000);
    for (const k of ['ours_ms', 'bpftool_ms', 'ratio', 'fill_ms']) {
      const v = doc[k];
      assert.ok(typeof v === 'number' && Number.isFinite(v) && v > 0, `${k} = ${String(v)}`);
    }
    assert.equal(doc.runs, 1);
    const { map_id: id, pin_dir: dir } = doc as { map_id: number; pin_dir: string };
    assert.ok(dir.startsWith(PIN_PREFIX), dir);
    assert.equal(existsSync(dir), false, `${dir} was left pinned`);
    assert.ok(await mapGone(id), `the bench map ${id} is still loaded`);
    assert.deepEqual(await mapsNamed(MAP_NAME), [], `maps named ${MAP_NAME} are left`);
  },
);

test('Ctrl-C during the rounds: exit 130, one line, the pins and the map gone', { timeout: 300_000 }, async () => {
  const child = spawn(
    process.execPath,
    [join(repoRoot(), 'dist/cli/main.js'), 'bench', 'maps', '--rounds', '50', '--json', '--node', NAME],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const dir = `${PIN_PREFIX}${child.pid ?? 0}`;
  const pinned = join(dir, 'maps', MAP_NAME);
  // Wait until the map is pinned (and the rounds under way), then interrupt.
  for (const until = Date.now() + 60_000; !existsSync(pinned) && Date.now() < until;) await sleep(50);
  assert.ok(existsSync(pinned), `the bench never pinned ${pinned}: ${stderr}`);
  const fd = addon().openPinned(pinned);
  let id: number;
  try {
    id = addon().mapInfo(fd).id;
  } finally {
    addon().closeFd(fd); // an fd of ours would keep the map loaded
  }
  await sleep(1500);
  child.kill('SIGINT');
  assert.equal(await exited, 130, stderr);
  assert.match(stderr.trim(), /^dfs-ebpf: bench maps interrupted; its map was removed$/);
  assert.equal(existsSync(dir), false, `${dir} was left pinned`);
  assert.ok(await mapGone(id), `the bench map ${id} is still loaded`);
});

test('bench maps refuses a node reached over SSH, before loading anything', async () => {
  const r = await runCli(['bench', 'maps', '--json', '--node', 'nobody@192.0.2.1']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^dfs-ebpf: bench maps .*needs a local test node.*\[BadRequest\]\n$/);
});
