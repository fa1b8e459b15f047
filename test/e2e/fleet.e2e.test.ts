// UI end to end for a fleet: the packaged .vsix in real VS Code (code-server), driven in
// headless Chromium, against a real three-node local JuiceFS fleet (`node up --count 3`):
// the fleet status item counts the nodes → palette "Attach bypass on nodes…" with every node
// picked → the item says the bypass is on 3 of 3 and, after traffic on node 0's mount, how
// much it redirected → the Nodes view lists each node's bypass → "Detach bypass on nodes…"
// turns it off everywhere. Screenshots are kept in out/test-results/e2e/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { E2E_ARTIFACTS, packagedExtension } from '../support/e2e';

const PREFIX = 'dfsitfe';
const NAMES = [0, 1, 2].map((i) => `${PREFIX}${i}`);
const FLEET_ITEM = 'dfs-ebpf.dfs-ebpf.dfsEbpf.fleet';
const artifacts = E2E_ARTIFACTS;
let server: CodeServerHandle | undefined;
let browser: BrowserSession | undefined;
const workspace = mkdtempSync(join(tmpdir(), 'dfs-e2e-fleet-'));

before(async () => {
  const vsix = packagedExtension();
  const up = await runCli(['node', 'up', '--count', '3', '--name', PREFIX]);
  assert.equal(up.code, 0, up.stderr);
  writeFileSync(join(workspace, 'README.md'), '# e2e workspace\n');
  server = await startCodeServer({
    installExtensions: [vsix],
    settings: { 'dfsEbpf.node': `local:${NAMES[0]}`, 'dfsEbpf.nodes': NAMES, 'dfsEbpf.autoConnect': false },
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
      // The multi-select list has every node picked; Enter accepts them all.
      const rows = page.locator('.quick-input-list .monaco-list-row');
      await rows.filter({ hasText: NAMES[2]! }).first().waitFor({ timeout: 15_000 });
      assert.equal(await rows.count(), 3);
      await page.keyboard.press('Enter');
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
      await rows.filter({ hasText: NAMES[2]! }).first().waitFor({ timeout: 15_000 });
      await page.keyboard.press('Enter');
      await waitForStatusBarText(page, FLEET_ITEM, /3 nodes · bypass 0\/3/, 60_000);
      rmSync(file);
    } catch (err) {
      await screenshot(page, join(artifacts, 'fleet-failure.png')).catch(() => undefined);
      throw err;
    }
  },
);
