// UI end to end: the packaged .vsix installed into real VS Code (code-server), driven in
// headless Debian Chromium through Playwright like a user: command palette → "Attach bypass"
// → the status bar says the bypass is on and counts redirected traffic → "Detach bypass" →
// off; the bypass panel (a webview) shows the same state. Runs against a real local test
// node. Screenshots are kept in out/test-results/e2e/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

const NAME = 'dfsitui';
const STATUS_ITEM = 'dfs-ebpf.dfs-ebpf.dfsEbpf.bypass';
const artifacts = E2E_ARTIFACTS;
let node: LocalNode;
let server: CodeServerHandle | undefined;
let browser: BrowserSession | undefined;
const workspace = mkdtempSync(join(tmpdir(), 'dfs-e2e-ws-'));

before(async () => {
  const vsix = packagedExtension();
  node = await upNode(NAME);
  writeFileSync(join(workspace, 'README.md'), '# e2e workspace\n');
  server = await startCodeServer({
    installExtensions: [vsix],
    settings: { 'dfsEbpf.node': `local:${NAME}`, 'dfsEbpf.statusRefreshSeconds': 0.5 },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(workspace, { recursive: true, force: true });
  await nodeDown({ name: NAME });
});

test(
  'palette → "Attach bypass" → status bar on with counters → "Detach bypass" → off',
  { timeout: 240_000 },
  async () => {
    assert.ok(server && browser);
    const { page } = browser;
    await openWorkbench(page, server.url, workspace);
    try {
      // autoConnect: the installed extension connects at startup and says the bypass is off.
      await waitForStatusBarText(page, STATUS_ITEM, /bypass off/, 60_000);

      await runCommand(page, 'Attach bypass');
      await waitForStatusBarText(page, STATUS_ITEM, /bypass on/, 60_000);
      // Traffic through JuiceFS shows up in the status bar as redirected bytes.
      const data = randomBytes(4 << 20);
      const file = join(node.mountpoint, 'e2e.bin');
      writeFileSync(file, data);
      assert.ok(readFileSync(file).equals(data));
      const on = await waitForStatusBarText(page, STATUS_ITEM, /bypass on · [\d.]+k? msgs · [\d.]+ MiB/, 30_000);
      assert.match(on, /dfsitui: bypass on/);
      await screenshot(page, join(artifacts, 'bypass-on.png'));

      // The bypass panel (a webview) shows the same state from the same counters.
      await runCommand(page, 'Show bypass');
      const panel = page.frameLocator('iframe.webview').frameLocator('#active-frame');
      await panel.locator('#bypass-state').filter({ hasText: 'on' }).waitFor({ timeout: 30_000 });
      const counters = await panel.locator('#bypass-counters').innerText({ timeout: 30_000 });
      assert.match(counters, /Redirected messages\s+[1-9]\d*/);
      assert.match(await panel.locator('#bypass-endpoints').innerText(), /127\.0\.0\.1:6379\s+meta/);
      await screenshot(page, join(artifacts, 'bypass-panel.png'));

      await runCommand(page, 'Detach bypass');
      const off = await waitForStatusBarText(page, STATUS_ITEM, /bypass off/, 30_000);
      assert.match(off, /dfsitui: bypass off/);
      await screenshot(page, join(artifacts, 'bypass-off.png'));
      rmSync(file);
    } catch (err) {
      await screenshot(page, join(artifacts, 'failure.png')).catch(() => undefined);
      throw err;
    }
  },
);
