// `dfs-ebpf profile` as DESIGN.md §7 says, run as a user would (the built CLI, a real local
// test node, real JuiceFS): `--json` prints the Profile with its contract keys; `--format
// folded|speedscope --out FILE` writes files that read back (speedscope's own schema);
// `--compare A B` prints the differences; `--off-on` runs a workload with the bypass off, then
// on, and leaves it off; bad input gets one line on stderr and a non-zero exit.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeDown, type LocalNode } from '../../core/src/testnode';
import { readProfileText } from '../../core/src/profile/files';
import type { Profile } from '../../protocol/src';
import { upNode } from '../support/node';
import { runCli, type CliResult } from '../support/cli';
import { speedscopeValidator } from '../support/speedscopeSchema';

const NAME = 'dfsprofcli';
let node: LocalNode;
const dir = mkdtempSync(join(tmpdir(), 'dfs-profile-cli-'));

const cli = (...args: string[]): Promise<CliResult> => runCli([...args, '--node', NAME]);

/** Bounded I/O on the mount, started after a delay so that the profile is attached. */
async function io(files: number, delayMs = 1000): Promise<void> {
  await new Promise((r) => setTimeout(r, delayMs));
  const d = join(node.mountpoint, `cli-${Date.now()}`);
  await mkdir(d, { recursive: true });
  for (let i = 0; i < files; i++) {
    await writeFile(join(d, `f${i}`), Buffer.alloc(16384, i));
    await readFile(join(d, `f${i}`));
  }
  await rm(d, { recursive: true, force: true });
}

before(async () => {
  node = await upNode(NAME);
});

after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await nodeDown({ name: NAME });
});

test(
  'profile --json prints the Profile with the contract keys; --out writes folded and speedscope files that read back',
  { timeout: 180_000 },
  async () => {
    const [r] = await Promise.all([cli('profile', '--duration', '4', '--json'), io(30)]);
    assert.equal(r.code, 0, r.stderr);
    const p = JSON.parse(r.stdout) as Profile;
    assert.ok(p.duration_s >= 3.5 && p.duration_s < 10, `duration_s ${p.duration_s}`);
    const create = p.histograms.find((h) => h.layer === 'fuse' && h.op === 'CREATE' && h.phase === undefined);
    assert.ok((create?.count ?? 0) >= 30, `CREATE ${create?.count ?? 0}`);
    assert.ok(create?.buckets.every((b) => b.le_us > 0 && b.count > 0));
    assert.ok(p.histograms.some((h) => h.layer === 'fuse' && h.phase === 'queue'));
    assert.ok(p.stacks.length > 0 && p.stacks.every((s) => Array.isArray(s.frames) && s.total_ns >= 0 && s.count > 0));

    const folded = join(dir, 'p.folded');
    const speedscope = join(dir, 'p.speedscope.json');
    const [f] = await Promise.all([cli('profile', '--duration', '3', '--format', 'folded', '--out', folded), io(20)]);
    assert.equal(f.code, 0, f.stderr);
    assert.match(f.stdout, /wrote .*p\.folded \(folded\)/);
    const lines = readFileSync(folded, 'utf8').trim().split('\n');
    assert.ok(lines.length > 0 && lines.every((l) => /^\S.* \d+$/.test(l)), lines[0]);
    assert.ok(readProfileText(readFileSync(folded, 'utf8'), 'p.folded').profile.stacks.length > 0);

    const [s] = await Promise.all([
      cli('profile', '--duration', '3', '--format', 'speedscope', '--out', speedscope),
      io(20),
    ]);
    assert.equal(s.code, 0, s.stderr);
    const validate = await speedscopeValidator();
    assert.ok(validate(JSON.parse(readFileSync(speedscope, 'utf8'))), JSON.stringify(validate.errors?.slice(0, 3)));

    // --compare of two of them (any format), as data.
    const json = join(dir, 'p.json');
    await writeFile(json, r.stdout);
    const c = await cli('profile', '--compare', json, folded, '--json');
    assert.equal(c.code, 0, c.stderr);
    const cmp = JSON.parse(c.stdout) as { layers: unknown[]; frames: { frame: string }[] };
    assert.ok(cmp.layers.length > 0 && cmp.frames.length > 0);
  },
);

test(
  'profile --off-on runs the workload with the bypass off, then on, and leaves it off',
  { timeout: 300_000 },
  async () => {
    const prefix = join(dir, 'offon');
    const r = await cli(
      'profile',
      '--off-on',
      '--workload',
      'juicefs-metadata',
      '--duration',
      '120',
      '--out',
      prefix,
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as {
      workload: string;
      off: { value: number };
      on: { value: number };
      ratio: number;
      redirected_msgs: number;
      files: { off: string; on: string };
    };
    assert.equal(doc.workload, 'juicefs-metadata');
    assert.ok(doc.off.value > 0 && doc.on.value > 0 && Number.isFinite(doc.ratio));
    assert.ok(doc.redirected_msgs > 0, 'the "on" run went through the bypass');
    assert.ok(existsSync(doc.files.off) && existsSync(doc.files.on));
    const status = await cli('status', '--json');
    assert.equal((JSON.parse(status.stdout) as { bypass: { attached: boolean } }).bypass.attached, false);
  },
);

test('bad input: one line on stderr and a non-zero exit', { timeout: 60_000 }, async () => {
  const missing = await cli('profile', '--compare', join(dir, 'nope.json'), join(dir, 'nope2.json'));
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /^dfs-ebpf: cannot read .*nope\.json.*\n$/);
  const hostile = join(dir, 'hostile.json');
  await writeFile(hostile, '{"version":1,"histograms":[{"layer":"disk","op":1}],"stacks":"x"}');
  const bad = await cli('profile', '--compare', hostile, hostile);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /hostile\.json: .*histograms\[0\]/);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  const usage = await cli('profile', '--duration', '0');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--duration/);
  const format = await cli('profile', '--format', 'svg');
  assert.equal(format.code, 2);
});
