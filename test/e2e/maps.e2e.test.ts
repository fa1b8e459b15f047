// UI end to end for the node explorer and the map inspector: the packaged .vsix in real VS
// Code (code-server), driven in headless Chromium, against a real local test node whose kernel
// holds the fixture maps (test/fixtures/bpf/maps/maps.bpf.c, loaded with bpftool) with a log2
// histogram map filled through the CLI: the DFS eBPF view shows the node's maps → clicking
// fx_hist opens the inspector → its rows carry drawn histograms (canvas, read back through
// their accessible summary), the selected row's large histogram too. Then, with the bypass
// attached from the palette, its sockhash opens with each socket's endpoints found from the
// cookies. Screenshots are kept in out/test-results/e2e/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeDown } from '../../core/src/testnode';
import {
  launchBrowser,
  openWorkbench,
  runCommand,
  screenshot,
  waitForStatusBarText,
  type BrowserSession,
} from '../harness/browser';
import { startCodeServer, type CodeServerHandle } from '../harness/codeServer';
import { runCli } from '../support/cli';
import { compileMapsFixture } from '../support/mapsFixture';
import { upNode } from '../support/node';
import { E2E_ARTIFACTS, packagedExtension } from '../support/e2e';

const NAME = 'dfsitmaps';
const STATUS_ITEM = 'dfs-ebpf.dfs-ebpf.dfsEbpf.bypass';
const artifacts = E2E_ARTIFACTS;
const pins = `/sys/fs/bpf/dfs-e2e-maps-${process.pid}`;
let server: CodeServerHandle | undefined;
let browser: BrowserSession | undefined;
const workspace = mkdtempSync(join(tmpdir(), 'dfs-e2e-maps-'));

/** Slot counts with their mode at `peak` (a bell of 1, 10, 100, 1000, 100, 10, 1). */
function bell(peak: number): number[] {
  return Array.from({ length: 32 }, (_, k) => {
    const d = Math.abs(k - peak);
    return d > 3 ? 0 : 10 ** (3 - d);
  });
}

before(async () => {
  const vsix = packagedExtension();
  const fixture = compileMapsFixture();
  try {
    execFileSync('bpftool', ['prog', 'loadall', fixture.path, pins, 'pinmaps', join(pins, 'maps')]);
  } finally {
    fixture.dispose();
  }
  await upNode(NAME);
  const id = String(
    (
      JSON.parse(
        execFileSync('bpftool', ['-j', 'map', 'show', 'pinned', join(pins, 'maps', 'fx_hist')], { encoding: 'utf8' }),
      ) as { id: number }
    ).id,
  );
  for (const [key, peak] of [
    [0, 4],
    [1, 9],
    [2, 14],
  ] as const) {
    const slots = bell(peak);
    const count = slots.reduce((s, c) => s + c, 0);
    const r = await runCli([
      'maps',
      'update',
      id,
      String(key),
      JSON.stringify({ count, sum_ns: count * 1000, slots }),
      '--yes',
      '--node',
      NAME,
    ]);
    assert.equal(r.code, 0, r.stderr);
  }
  writeFileSync(join(workspace, 'README.md'), '# e2e workspace\n');
  server = await startCodeServer({ installExtensions: [vsix], settings: { 'dfsEbpf.node': `local:${NAME}` } });
  browser = await launchBrowser({ viewport: { width: 1600, height: 1000 } });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(workspace, { recursive: true, force: true });
  rmSync(pins, { recursive: true, force: true });
  await nodeDown({ name: NAME });
});

test(
  "the node explorer lists the node's maps; a histogram map opens in the inspector with its histograms drawn",
  { timeout: 240_000 },
  async () => {
    assert.ok(server && browser);
    const { page } = browser;
    await openWorkbench(page, server.url, workspace);
    try {
      await waitForStatusBarText(page, STATUS_ITEM, /bypass off/, 60_000);
      await runCommand(page, 'View: Show DFS eBPF');
      const tree = page.locator('.pane-body .monaco-list-row');
      await tree.filter({ hasText: NAME }).first().waitFor({ timeout: 30_000 });
      await tree.filter({ hasText: /^Maps/ }).first().click();
      const fxHist = tree.filter({ hasText: 'fx_hist' }).first();
      await fxHist.waitFor({ timeout: 30_000 });
      assert.match(await fxHist.innerText(), /array · id \d+ · 4→272 B · max 4/);
      await tree
        .filter({ hasText: /^Programs/ })
        .first()
        .click();
      await tree.filter({ hasText: 'fx_touch' }).first().waitFor({ timeout: 15_000 });
      await screenshot(page, join(artifacts, 'node-explorer.png'));

      await fxHist.click();
      const panel = page.frameLocator('iframe.webview').frameLocator('#active-frame');
      const small = panel.locator('canvas[role="img"][aria-label^="n="]');
      await small.first().waitFor({ state: 'visible', timeout: 30_000 });
      const labels: string[] = [];
      for (let i = 0; i < (await small.count()); i++)
        labels.push((await small.nth(i).getAttribute('aria-label')) ?? '');
      // Rows 0..2 peak at slots 4, 9 and 14: (8, 16], (256, 512], (8K, 16K]; row 3 is empty.
      for (const want of [/n=1,222, most in \(8, 16\]/, /most in \(256, 512\]/, /most in \(8K, 16K\]/]) {
        assert.ok(
          labels.some((l) => want.test(l)),
          `a drawn histogram reads ${String(want)}: ${labels.join(' | ')}`,
        );
      }
      await screenshot(page, join(artifacts, 'map-inspector-histogram.png'));
    } catch (err) {
      await screenshot(page, join(artifacts, 'maps-failure.png')).catch(() => undefined);
      throw err;
    }
  },
);

test("with the bypass attached, its sockhash shows each socket's endpoints", { timeout: 240_000 }, async () => {
  assert.ok(server && browser);
  const { page } = browser;
  await runCommand(page, 'View: Close All Editors');
  await runCommand(page, 'Attach bypass');
  await waitForStatusBarText(page, STATUS_ITEM, /bypass on/, 60_000);
  try {
    await runCommand(page, 'Refresh node explorer');
    const tree = page.locator('.pane-body .monaco-list-row');
    const sockhash = tree.filter({ hasText: 'bypass_sockhash' }).first();
    await sockhash.waitFor({ timeout: 30_000 });
    await sockhash.click();
    const panel = page.frameLocator('iframe.webview').frameLocator('#active-frame');
    // The daemon's connections to Redis (6379) and the object store (6380), from either end.
    const endpoints = /^127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+ established$/;
    const cells = panel.locator('.mrow .cell.socket');
    await cells.filter({ hasText: endpoints }).first().waitFor({ timeout: 30_000 });
    const texts = await cells.allInnerTexts();
    assert.ok(texts.length >= 2, `sockets listed: ${texts.length}`);
    for (const t of texts) assert.match(t, endpoints);
    assert.ok(
      texts.some((t) => / → 127\.0\.0\.1:(6379|6380) /.test(t)),
      `a connection to Redis or the object store: ${texts.join(' | ')}`,
    );
    await screenshot(page, join(artifacts, 'map-inspector-sockhash.png'));
  } catch (err) {
    await screenshot(page, join(artifacts, 'maps-sockhash-failure.png')).catch(() => undefined);
    throw err;
  } finally {
    await runCommand(page, 'Detach bypass');
    await waitForStatusBarText(page, STATUS_ITEM, /bypass off/, 30_000);
  }
});
