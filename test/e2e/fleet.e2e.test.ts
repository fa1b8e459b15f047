// UI end to end for a fleet: the packaged .vsix in real VS Code (code-server), driven in
// headless Chromium, against a real three-node local JuiceFS fleet (`node up --count 3`):
// the fleet status item counts the nodes → palette "Attach bypass on nodes…" with every node
// picked → the item says the bypass is on 3 of 3 and, after traffic on node 0's mount, how
// much it redirected → the Nodes view lists each node's bypass → "Detach bypass on nodes…"
// turns it off everywhere. Then the single-node features across the fleet: "Verify on nodes…"
// on a faulty program puts the finding on its line once, naming the three kernels that refused
// it; "Profile nodes…" profiles the three at once and compares two of them in the differential
// view; "Connect to node…" moves the editor's connection to node 1 (the Nodes view marks it).
// Screenshots are kept in out/test-results/e2e/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  launchBrowser,
  openFile,
  openWorkbench,
  runCommand,
  screenshot,
  waitForNotification,
  waitForStatusBarText,
  type BrowserSession,
} from '../harness/browser';
import type { Page } from 'playwright-core';
import { startCodeServer, type CodeServerHandle } from '../harness/codeServer';
import { runCli } from '../support/cli';
import { E2E_ARTIFACTS, packagedExtension } from '../support/e2e';
import { repoRoot } from '../support/repo';

const PREFIX = 'dfsitfe';
const NAMES = [0, 1, 2].map((i) => `${PREFIX}${i}`);
const FLEET_ITEM = 'dfs-ebpf.dfs-ebpf.dfsEbpf.fleet';
const BYPASS_ITEM = 'dfs-ebpf.dfs-ebpf.dfsEbpf.bypass';
/** A program every kernel refuses (a map value used without the NULL check), marked `EXPECT:`. */
const FAULTY = 'null_hash_lookup.bpf.c';
const mountOf = (name: string): string => join('/mnt/dfs-ebpf', name);

/** The nodes list of a fleet command: all three are listed and picked; OK takes them. */
async function acceptAllNodes(page: Page): Promise<void> {
  const rows = page.locator('.quick-input-list .monaco-list-row');
  await rows.filter({ hasText: NAMES[2]! }).first().waitFor({ timeout: 15_000 });
  assert.equal(await rows.count(), 3);
  await page.locator('.quick-input-widget', { hasText: '3 Selected' }).waitFor({ timeout: 5_000 }); // all picked
  // The OK button, not Enter: a key pressed while the list takes focus can land in the editor.
  await page.locator('.quick-input-widget .monaco-button', { hasText: /^OK$/ }).click();
}
const artifacts = E2E_ARTIFACTS;
let server: CodeServerHandle | undefined;
let browser: BrowserSession | undefined;
const workspace = mkdtempSync(join(tmpdir(), 'dfs-e2e-fleet-'));

before(async () => {
  const vsix = packagedExtension();
  const up = await runCli(['node', 'up', '--count', '3', '--name', PREFIX]);
  assert.equal(up.code, 0, up.stderr);
  writeFileSync(join(workspace, 'README.md'), '# e2e workspace\n');
  mkdirSync(join(workspace, 'verifier'));
  cpSync(join(repoRoot(), 'test/fixtures/bpf/verifier', FAULTY), join(workspace, 'verifier', FAULTY));
  server = await startCodeServer({
    installExtensions: [vsix],
    settings: {
      'dfsEbpf.node': `local:${NAMES[0]}`,
      'dfsEbpf.nodes': NAMES,
      'dfsEbpf.autoConnect': false,
      'dfsEbpf.profile.durationSeconds': 5,
    },
  });
  browser = await launchBrowser({ viewport: { width: 1600, height: 1000 } });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(workspace, { recursive: true, force: true });
  await runCli(['detach', 'bypass', '--node', NAMES.join(',')]);
  await runCli(['node', 'down', '--all', '--name', PREFIX]);
});

test(
  'palette → "Attach bypass on nodes…" on a 3-node fleet → status item 3/3 with counters → detach',
  { timeout: 300_000 },
  async () => {
    assert.ok(server && browser);
    const { page } = browser;
    await openWorkbench(page, server.url, workspace);
    try {
      await waitForStatusBarText(page, FLEET_ITEM, /3 nodes · bypass 0\/3/, 60_000);

      await runCommand(page, 'Attach bypass on nodes…');
      await acceptAllNodes(page);
      await waitForStatusBarText(page, FLEET_ITEM, /3 nodes · bypass 3\/3/, 60_000);

      // Traffic through node 0's own daemon: its Redis pair is on the same host, so it redirects.
      const data = randomBytes(4 << 20);
      const file = join('/mnt/dfs-ebpf', NAMES[0]!, 'e2e-fleet.bin');
      writeFileSync(file, data);
      assert.ok(readFileSync(file).equals(data));
      const on = await waitForStatusBarText(page, FLEET_ITEM, /bypass 3\/3 · [\d.]+k? msgs · [\d.]+ [KM]iB/, 30_000);
      assert.doesNotMatch(on, /unreachable/);
      // The fleet status item opens the Nodes view (collapsed until asked for).
      await page.locator(`.part.statusbar .statusbar-item[id="${FLEET_ITEM}"]`).click();
      const nodes = page.locator('.pane-body .monaco-list-row');
      for (const n of NAMES)
        await nodes.filter({ hasText: n }).filter({ hasText: 'bypass on' }).first().waitFor({ timeout: 15_000 });
      await screenshot(page, join(artifacts, 'fleet-bypass-on.png'));

      await runCommand(page, 'Detach bypass on nodes…');
      await acceptAllNodes(page);
      await waitForStatusBarText(page, FLEET_ITEM, /3 nodes · bypass 0\/3/, 60_000);
      rmSync(file);
    } catch (err) {
      await screenshot(page, join(artifacts, 'fleet-failure.png')).catch(() => undefined);
      throw err;
    }
  },
);

/** Bounded I/O on a node's mount while a profile runs: creates, writes and reads (in a
 * directory of the node's own: the nodes share one volume). */
async function io(name: string, files: number): Promise<void> {
  const dir = join(mountOf(name), `e2e-fleet-profile-${name}`);
  await mkdir(dir, { recursive: true });
  const data = Buffer.alloc(64 * 1024, 7);
  for (let i = 0; i < files; i++) {
    const f = join(dir, `f${i}`);
    await writeFile(f, data);
    await readFile(f);
  }
  await rm(dir, { recursive: true, force: true });
}

test(
  '"Verify on nodes…" → one finding naming 3 kernels → "Profile nodes…" → compare two nodes → "Connect to node…"',
  { timeout: 300_000 },
  async () => {
    assert.ok(server && browser);
    const { page } = browser;
    const rows = page.locator('.quick-input-list .monaco-list-row');
    try {
      // Verify the faulty program on every node: each kernel refuses it at the marked line.
      const text = readFileSync(join(workspace, 'verifier', FAULTY), 'utf8');
      const line = text.split('\n').findIndex((l) => l.includes('EXPECT: null-check')) + 1;
      await openFile(page, FAULTY);
      await runCommand(page, 'Verify on nodes…');
      await acceptAllNodes(page);
      const verdict = await waitForNotification(page, new RegExp(`${FAULTY} on 3 nodes: .*rejected`), 120_000);
      const said = await verdict.innerText();
      // The same verdict from every kernel is said once, naming the three.
      assert.match(said, new RegExp(`rejected \\w+ \\(line ${line}\\) on ${NAMES.join(', ')}`), said);
      await page.locator('.monaco-editor .squiggly-error').first().waitFor({ timeout: 30_000 });
      await page.keyboard.press('Control+Shift+M'); // the Problems view
      const finding = page.locator('.markers-panel .monaco-list-row', { hasText: `[on ${NAMES.join(', ')}]` });
      await finding.first().waitFor({ timeout: 30_000 });
      assert.equal(await finding.count(), 1, 'one finding for the three nodes, not three');
      assert.match(await finding.first().innerText(), new RegExp(`\\[Ln ${line},`));
      await screenshot(page, join(artifacts, 'fleet-verify.png'));

      // Profile the three at once while each mount is worked, then compare node 0 with node 1.
      await runCommand(page, 'Profile nodes…');
      await acceptAllNodes(page);
      await rows.first().filter({ hasText: '5 s' }).click({ timeout: 15_000 }); // the default first
      let profiled = false;
      const load = Promise.all(
        NAMES.map(async (n) => {
          for (let round = 0; round < 100 && !profiled; round++) await io(n, 10);
        }),
      );
      let done;
      try {
        done = await waitForNotification(page, new RegExp(`profiled ${NAMES.join(', ')} for 5 s`), 120_000);
      } finally {
        profiled = true;
        await load;
      }
      const panel = page.frameLocator('iframe.webview').frameLocator('#active-frame');
      await panel
        .locator('.meta')
        .filter({ hasText: new RegExp(`${NAMES[0]}.*stacks`) })
        .waitFor({ timeout: 30_000 });
      await done.locator('.monaco-button', { hasText: 'Compare Two Nodes…' }).click();
      await rows.filter({ hasText: NAMES[0]! }).first().click();
      await rows.filter({ hasText: NAMES[1]! }).first().waitFor({ timeout: 15_000 });
      await rows.filter({ hasText: NAMES[1]! }).first().click();
      await panel.locator('#tab-diff').click();
      await panel.locator('.legend-red').waitFor({ state: 'visible', timeout: 15_000 });
      const meta = await panel.locator('.meta').innerText();
      assert.match(meta, new RegExp(NAMES[0]!), meta);
      assert.match(meta, new RegExp(NAMES[1]!), meta);
      await screenshot(page, join(artifacts, 'fleet-profile-compare.png'));

      // Move the editor's connection to node 1: the bypass item and the Nodes view follow.
      await runCommand(page, 'Connect to node…');
      await rows.filter({ hasText: NAMES[1]! }).first().click();
      await waitForStatusBarText(page, BYPASS_ITEM, new RegExp(`${NAMES[1]}: bypass off`), 60_000);
      const nodes = page.locator('.pane-body .monaco-list-row');
      if (!(await nodes.filter({ hasText: NAMES[1]! }).first().isVisible()))
        await page.locator(`.part.statusbar .statusbar-item[id="${FLEET_ITEM}"]`).click();
      await nodes
        .filter({ hasText: NAMES[1]! })
        .filter({ hasText: 'connected · ' })
        .first()
        .waitFor({ timeout: 15_000 });
      assert.equal(await nodes.filter({ hasText: 'connected · ' }).count(), 1, 'one node is the connected one');
      await screenshot(page, join(artifacts, 'fleet-connect-node.png'));
    } catch (err) {
      await screenshot(page, join(artifacts, 'fleet-nodes-failure.png')).catch(() => undefined);
      throw err;
    }
  },
);
