// UI end to end for editing help: the packaged .vsix in real VS Code (code-server), driven in
// headless Chromium, connected to a real local test node. A .bpf.c with a helper its program
// type may not call and a misspelled section gets both squiggles as it opens; the hover on
// bpf_map_lookup_elem shows the signature, the description and what the node's kernel allows,
// and the one on a kfunc its kernel-doc and the node verifier's verdict;
// the quick fix menu offers the corrected section; the getting-started walkthrough opens with
// each step's page rendered beside it, and its "Connect" step ticks.
// Screenshots are kept in out/test-results/e2e/editing-*.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeDown } from '../../core/src/testnode';
import {
  launchBrowser,
  openFile,
  openWorkbench,
  runCommand,
  screenshot,
  waitForStatusBarText,
  type BrowserSession,
} from '../harness/browser';
import { startCodeServer, type CodeServerHandle } from '../harness/codeServer';
import { upNode } from '../support/node';
import { E2E_ARTIFACTS, packagedExtension } from '../support/e2e';
import { repoRoot } from '../support/repo';

const NAME = 'dfsitedit';
const FILE = 'help.bpf.c';
const SOURCE = readFileSync(join(repoRoot(), 'test/fixtures/bpf/editing', FILE), 'utf8');
const artifacts = E2E_ARTIFACTS;
const workspace = mkdtempSync(join(tmpdir(), 'dfs-e2e-editing-'));
let server: CodeServerHandle | undefined;
let browser: BrowserSession | undefined;

before(async () => {
  const vsix = packagedExtension();
  await upNode(NAME);
  mkdirSync(join(workspace, 'bpf'));
  writeFileSync(join(workspace, 'bpf', FILE), SOURCE);
  server = await startCodeServer({ installExtensions: [vsix], settings: { 'dfsEbpf.node': `local:${NAME}` } });
  browser = await launchBrowser({ viewport: { width: 1600, height: 1000 } });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(workspace, { recursive: true, force: true });
  await nodeDown({ name: NAME });
});

const lineOf = (needle: string): number => SOURCE.split('\n').findIndex((l) => l.includes(needle)) + 1;

/** Put the cursor at 1-based line and column with "Go to Line/Column". */
async function goTo(page: BrowserSession['page'], line: number, column: number): Promise<void> {
  await page.keyboard.press('Control+G');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor({ state: 'visible', timeout: 15_000 });
  await input.fill(`:${line}:${column}`);
  await input.press('Enter');
}

test(
  'a .bpf.c opens with its check findings; hover a helper; quick fix a section; the walkthrough',
  { timeout: 300_000 },
  async () => {
    assert.ok(server && browser);
    const { page } = browser;
    await openWorkbench(page, server.url, workspace);
    try {
      await waitForStatusBarText(page, 'dfs-ebpf.dfs-ebpf.dfsEbpf.bypass', /bypass off/, 60_000); // connected
      await openFile(page, FILE);
      // Two findings: the helper on its call, the section on its name.
      await page.locator('.monaco-editor .squiggly-error').nth(1).waitFor({ timeout: 60_000 });
      assert.equal(await page.locator('.monaco-editor .squiggly-error').count(), 2);

      const line = lineOf('bpf_map_lookup_elem');
      const column = SOURCE.split('\n')[line - 1]!.indexOf('bpf_map_lookup_elem') + 5;
      await goTo(page, line, column);
      await runCommand(page, 'Show or Focus Hover');
      const hover = page.locator('.monaco-hover').filter({ hasText: 'bpf_map_lookup_elem' }).first();
      await hover.waitFor({ state: 'visible', timeout: 30_000 });
      const text = await hover.innerText();
      assert.match(text, /void \*bpf_map_lookup_elem\(void \*map, const void \*key\)/);
      assert.match(text, /Perform a lookup in map/);
      assert.match(text, /reads_skb \(xdp\) may call it/);
      await screenshot(page, join(artifacts, 'editing-hover.png'));
      await page.keyboard.press('Escape');

      // A kfunc: its BTF signature, the kernel's own kernel-doc, and the node's verdict.
      const kline = lineOf('bpf_task_acquire(bpf_get');
      await goTo(page, kline, SOURCE.split('\n')[kline - 1]!.indexOf('bpf_task_acquire') + 5);
      await runCommand(page, 'Show or Focus Hover');
      const khover = page.locator('.monaco-hover').filter({ hasText: 'Acquire a reference to a task' }).first();
      await khover.waitFor({ state: 'visible', timeout: 30_000 });
      const ktext = await khover.innerText();
      assert.match(ktext, /extern struct task_struct \*bpf_task_acquire\(struct task_struct \*p\) __ksym;/);
      assert.match(ktext, /on_switch \(tracing\) may call it/);
      await screenshot(page, join(artifacts, 'editing-kfunc-hover.png'));
      await page.keyboard.press('Escape');

      // The misspelled section: the quick fix menu (Ctrl+.) offers the corrected name.
      // Ctrl+. right after "Go to Line" can land before the editor has its focus back or its code
      // actions: ask again (bounded) until the menu shows.
      const fix = page.locator('.action-widget, .context-view').filter({ hasText: 'Change the section to "sk_msg"' });
      for (let attempt = 1; ; attempt++) {
        await page
          .locator('.monaco-editor .view-lines')
          .first()
          .click({ position: { x: 5, y: 5 } })
          .catch(() => undefined);
        await goTo(page, lineOf('SEC("sk_msgs")'), 7);
        await page.waitForTimeout(500);
        await page.keyboard.press('Control+.');
        try {
          await fix.first().waitFor({ state: 'visible', timeout: 10_000 });
          break;
        } catch (err) {
          if (attempt >= 4) throw err;
          await page.keyboard.press('Escape');
        }
      }
      await screenshot(page, join(artifacts, 'editing-quick-fix.png'));
      await page.keyboard.press('Enter');
      await page.locator('.monaco-editor .squiggly-error').nth(1).waitFor({ state: 'detached', timeout: 30_000 });
      assert.equal(await page.locator('.monaco-editor .squiggly-error').count(), 1, 'only the helper is left');

      await runCommand(page, 'Welcome: Open Walkthrough...');
      await page
        .locator('.quick-input-list .monaco-list-row', { hasText: 'Get started with DFS eBPF' })
        .first()
        .click();
      await page.locator('.getting-started-step', { hasText: 'Bring up a node' }).first().waitFor({ timeout: 30_000 });
      // The step's page (media/walkthrough/node.md) renders beside the steps, in a webview.
      await page.locator('.getting-started-media').first().waitFor({ state: 'visible', timeout: 30_000 });
      const media = page.frameLocator('iframe.webview').first().frameLocator('#active-frame');
      await media.getByText('A node to work on').first().waitFor({ timeout: 30_000 });
      // Connected before the walkthrough was first opened, VS Code does not tick an onContext
      // step (it counts the context as seen, not as progress): the step's button ticks it.
      await page.locator('.getting-started-step', { hasText: 'Connect to it' }).first().click();
      await page.locator('.getting-started-step .monaco-button', { hasText: 'Connect to test node' }).first().click();
      const connectStep = page.locator('.getting-started-step', { hasText: 'Connect to it' }).first();
      await connectStep.locator('.codicon-getting-started-step-checked').waitFor({ timeout: 30_000 });
      assert.equal(
        await page.locator('.getting-started-step .codicon-getting-started-step-checked').count(),
        1,
        'only the step acted on is ticked',
      );
      await media.getByText('opens the SSH session').first().waitFor({ timeout: 30_000 });
      await page.waitForTimeout(1000);
      await screenshot(page, join(artifacts, 'editing-walkthrough.png'));
    } catch (err) {
      await screenshot(page, join(artifacts, 'editing-failure.png')).catch(() => undefined);
      throw err;
    }
  },
);
