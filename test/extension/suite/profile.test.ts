// Profiling inside real VS Code against the suite's real test node: "Profile test node" (with
// its duration as the argument, as a keybinding or another extension would pass it) profiles
// the node while this test does I/O on the mount, and the viewer shows the Profile; "Compare
// profiles…" with two files shows the second against the first; a damaged file is refused
// with a message naming it, and the viewer keeps what it showed.
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { Commands } from '../../../extension/src/contributions';
import { exportProfile } from '../../../core/src/profile/files';
import { api } from './support';

suite('Profile test node', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dfs-ext-profile-'));

  suiteTeardown(() => rmSync(dir, { recursive: true, force: true }));

  test('"Profile test node" profiles the node while it works, and the viewer shows the profile', async () => {
    const { ctx, profiles } = await api();
    const session = await ctx.ensureConnected();
    const mountpoint = session.info.juicefs[0]?.mountpoint;
    assert.ok(mountpoint, 'the node has a JuiceFS mount');
    const work = join(mountpoint, `ext-profile-${process.pid}`);
    const profiling = Promise.resolve(vscode.commands.executeCommand(Commands.profileNode, 3));
    await new Promise((r) => setTimeout(r, 800)); // the profile attaches first
    await mkdir(work, { recursive: true });
    for (let i = 0; i < 30; i++) {
      await writeFile(join(work, `f${i}`), Buffer.alloc(8192, i));
      await readFile(join(work, `f${i}`));
    }
    await profiling;
    await rm(work, { recursive: true, force: true });
    const shown = profiles.shown;
    assert.ok(shown, 'the viewer shows a profile');
    const p = shown.profile;
    assert.equal(p.node, session.target.label);
    assert.equal(p.mountpoint, mountpoint);
    const creates = p.histograms.find((h) => h.layer === 'fuse' && h.op === 'CREATE' && h.phase === undefined);
    assert.ok((creates?.count ?? 0) >= 30, `FUSE CREATE requests seen: ${creates?.count ?? 0}`);
    assert.ok(p.stacks.length > 0, 'daemon stacks captured');
    assert.ok(p.duration_s >= 2.5 && p.duration_s < 30, `profiled for about 3 s: ${p.duration_s}`);
  });

  test('"Compare profiles…" shows B against A; a damaged file is refused and the viewer keeps its profile', async () => {
    const { profiles } = await api();
    const before = profiles.shown;
    assert.ok(before, 'a profile from the previous test');
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.folded');
    writeFileSync(a, exportProfile(before.profile, 'json'));
    writeFileSync(b, exportProfile(before.profile, 'folded'));
    await vscode.commands.executeCommand(Commands.compareProfiles, vscode.Uri.file(a), vscode.Uri.file(b));
    const compared = profiles.shown;
    assert.equal(compared?.label, 'b.folded');
    assert.equal(compared?.base?.label, 'a.json');
    const sum = (p: { stacks: { total_ns: number }[] }): number => p.stacks.reduce((s, x) => s + x.total_ns, 0);
    assert.equal(sum(compared.profile), sum(before.profile), 'the folded file carries the same time');

    const damaged = join(dir, 'damaged.json');
    writeFileSync(damaged, exportProfile(before.profile, 'json').slice(0, 200));
    await vscode.commands.executeCommand(Commands.compareProfiles, vscode.Uri.file(a), vscode.Uri.file(damaged));
    assert.equal(profiles.shown, compared, 'the viewer still shows the comparison');
  });
});
