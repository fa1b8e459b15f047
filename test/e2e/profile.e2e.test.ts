// UI end to end for profiling: the packaged .vsix in real VS Code (code-server), driven in
// headless Chromium like a user, against a real local test node (real JuiceFS, Redis, kernel):
// palette → "Profile test node" (5 s, while this test does I/O on the mount) → the latency
// histograms and the flame graph render → hovering a frame shows its time and share →
// "Profile bypass off vs on" (bench's metadata burst) → the differential view with the
// workload's figures. Screenshots are kept in out/test-results/e2e/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeDown, type LocalNode } from '../../core/src/testnode';
import {
  launchBrowser,
  openWorkbench,
  runCommand,
  screenshot,
  waitForStatusBarText,
  type BrowserSession,
} from '../harness/browser';
import { startCodeServer, type CodeServerHandle } from '../harness/codeServer';
import { upNode } from '../support/node';
import { E2E_ARTIFACTS, packagedExtension } from '../support/e2e';

const NAME = 'dfsitprof';
const STATUS_ITEM = 'dfs-ebpf.dfs-ebpf.dfsEbpf.bypass';
/** webview/src/profile/flameView.ts ROW: the height of one frame row, px. */
const ROW = 18;
const artifacts = E2E_ARTIFACTS;
let node: LocalNode;
let server: CodeServerHandle | undefined;
let browser: BrowserSession | undefined;
const workspace = mkdtempSync(join(tmpdir(), 'dfs-e2e-prof-'));

before(async () => {
  const vsix = packagedExtension();
  node = await upNode(NAME);
  writeFileSync(join(workspace, 'README.md'), '# e2e workspace\n');
  server = await startCodeServer({
    installExtensions: [vsix],
    settings: { 'dfsEbpf.node': `local:${NAME}`, 'dfsEbpf.profile.durationSeconds': 5 },
  });
  browser = await launchBrowser({ viewport: { width: 1600, height: 1000 } });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(workspace, { recursive: true, force: true });
  await nodeDown({ name: NAME });
});

/** Bounded I/O on the mount while a profile runs: creates, writes, stats and reads. */
async function io(mountpoint: string, files: number): Promise<void> {
  const dir = join(mountpoint, 'e2e-profile');
  await mkdir(dir, { recursive: true });
  const data = Buffer.alloc(64 * 1024, 7);
  for (let i = 0; i < files; i++) {
    const f = join(dir, `f${i}`);
    await writeFile(f, data);
    await stat(f);
    await readFile(f);
  }
  await rm(dir, { recursive: true, force: true });
}

test(
  'palette → "Profile test node" → histograms and flame graph → hover a frame → "Profile bypass off vs on" → differential view',
  { timeout: 300_000 },
  async () => {
    assert.ok(server && browser);
    const { page } = browser;
    await openWorkbench(page, server.url, workspace);
    try {
      await waitForStatusBarText(page, STATUS_ITEM, /bypass off/, 60_000);

      await runCommand(page, 'Profile test node');
      // The duration quick pick lists the configured default (5 s) first.
      const first = page.locator('.quick-input-list .monaco-list-row').first();
      await first.filter({ hasText: '5 s' }).waitFor({ timeout: 15_000 });
      await page.keyboard.press('Enter');
      // The mount is worked until the profile arrives, so the profile's 5 s see the work
      // however long its programs take to load on a busy machine (bounded: 100 rounds).
      let profiled = false;
      const load = (async () => {
        for (let round = 0; round < 100 && !profiled; round++) await io(node.mountpoint, 10);
      })();

      const panel = page.frameLocator('iframe.webview').frameLocator('#active-frame');
      // The profile arrives after the 5 s: its meta line names the node and counts stacks.
      const meta = panel.locator('.meta');
      try {
        await meta.filter({ hasText: new RegExp(`${NAME}.*stacks`) }).waitFor({ timeout: 60_000 });
      } finally {
        profiled = true;
        await load;
      }
      assert.match(await meta.innerText(), /JuiceFS 1\.\d/);

      await panel.locator('#tab-histograms').click();
      const hist = panel.locator('.histograms');
      await hist.filter({ hasText: 'WRITE' }).waitFor({ timeout: 15_000 });
      const histText = await hist.innerText();
      for (const op of ['CREATE', 'WRITE', 'GETATTR']) assert.match(histText, new RegExp(op), `${op} histogram shown`);
      assert.match(histText, /p99/);
      await screenshot(page, join(artifacts, 'profile-histograms.png'));

      await panel.locator('#tab-flame').click();
      const canvas = panel.locator('canvas').first();
      await canvas.waitFor({ state: 'visible', timeout: 15_000 });
      const box = await canvas.boundingBox();
      assert.ok(box && box.width > 200, 'the flame graph canvas has a size');
      // Row 1 (under the root) is the daemon's thread name frame, as wide as the whole profile.
      await page.mouse.move(box.x + box.width / 2, box.y + ROW * 1.5);
      const tip = panel.locator('.tooltip');
      await tip.waitFor({ state: 'visible', timeout: 10_000 });
      const tipText = await tip.innerText();
      assert.match(tipText, /[\d.,]+ ms/, `the tooltip gives a time: ${tipText}`);
      assert.match(tipText, /\d+(\.\d)?%/, `the tooltip gives a share: ${tipText}`);
      await screenshot(page, join(artifacts, 'profile-flame-hover.png'));

      await runCommand(page, 'Profile bypass off vs on');
      await page
        .locator('.quick-input-list .monaco-list-row')
        .first()
        .filter({ hasText: 'juicefs-metadata' })
        .waitFor({ timeout: 15_000 });
      await page.keyboard.press('Enter');
      // Two profiled runs of the burst, then the differential view with the figures.
      const figures = panel.locator('.figures');
      await figures.filter({ hasText: /juicefs-metadata/ }).waitFor({ timeout: 180_000 });
      assert.match(await figures.innerText(), /bypass off [\d.,]+ ops\/s.*on [\d.,]+ ops\/s/s);
      // VS Code's hover for the editor tab's long title can lie over the webview's tab row.
      await page.mouse.move(5, 500);
      await page.keyboard.press('Escape');
      await panel.locator('#tab-diff').click();
      await panel.locator('.legend-red').waitFor({ state: 'visible', timeout: 15_000 });
      await screenshot(page, join(artifacts, 'profile-diff.png'));
      // The bypass was detached again after the "on" run.
      await waitForStatusBarText(page, STATUS_ITEM, /bypass off/, 30_000);
    } catch (err) {
      await screenshot(page, join(artifacts, 'profile-failure.png')).catch(() => undefined);
      throw err;
    }
  },
);
