// UI end to end for build-and-verify, like a user in real VS Code (code-server + Chromium, the
// packaged .vsix, a real local test node): open a buggy .bpf.c, run "Verify on test node" from
// the palette, see the budget CodeLens name the class and line, then "Show verifier log":
// the explorer opens on the failing instruction, highlighted, with the diagnostic's source line
// selected, also after a resumed path where the nearest annotation names another line.
// Screenshots are kept in out/test-results/e2e/verify-*.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
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
import { repoRoot } from '../support/repo';
import { E2E_ARTIFACTS, packagedExtension } from '../support/e2e';

const NAME = 'dfsitvu';
const FIXTURE = 'null_hash_lookup.bpf.c';
const RESUMED = 'bad_return_cgroup_sock.bpf.c';
const artifacts = E2E_ARTIFACTS;
const workspace = mkdtempSync(join(tmpdir(), 'dfs-e2e-verify-'));
let server: CodeServerHandle | undefined;
let browser: BrowserSession | undefined;

before(async () => {
  const vsix = packagedExtension();
  await upNode(NAME);
  mkdirSync(join(workspace, 'verifier'));
  for (const f of [FIXTURE, RESUMED])
    cpSync(join(repoRoot(), 'test/fixtures/bpf/verifier', f), join(workspace, 'verifier', f));
  server = await startCodeServer({ installExtensions: [vsix], settings: { 'dfsEbpf.node': `local:${NAME}` } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(workspace, { recursive: true, force: true });
  await nodeDown({ name: NAME });
});

/** 1-based line of the fixture's `EXPECT: <cls>` marker. */
function expectLineOf(fixture: string, cls: string): number {
  const text = readFileSync(join(workspace, 'verifier', fixture), 'utf8');
  return text.split('\n').findIndex((l) => l.includes(`EXPECT: ${cls}`)) + 1;
}

/**
 * Opens `fixture`, runs "Verify on test node" from the palette, checks the CodeLens and the
 * squiggle, then "Show verifier log": the failing instruction is selected and the source pane
 * selects the diagnostic's line. Screenshots are named after `shot`.
 */
async function verifyAndExplore(page: Page, fixture: string, cls: string, reason: RegExp, shot: string): Promise<void> {
  const expectLine = expectLineOf(fixture, cls);
  await openFile(page, fixture);
  await runCommand(page, 'Verify on test node');

  // The budget CodeLens over the program says why and where.
  const lens = page.locator('.contentWidgets .codelens-decoration, .codelens-decoration', {
    hasText: `${cls} at line ${expectLine}`,
  });
  await lens.first().waitFor({ timeout: 60_000 });
  assert.match(await lens.first().innerText(), /rejected by the verifier/);
  // The diagnostic is in the editor: a squiggle on the failing line.
  await page.locator('.monaco-editor .squiggly-error').first().waitFor({ timeout: 30_000 });
  await screenshot(page, join(artifacts, `${shot}-diagnostic.png`));

  await runCommand(page, 'Show verifier log');
  const panel = page.frameLocator('iframe.webview').frameLocator('#active-frame');
  const failing = panel.locator('#log-list .vrow.failing');
  await failing.waitFor({ state: 'visible', timeout: 60_000 });
  assert.match((await failing.getAttribute('class')) ?? '', /\bselected\b/, 'the failing instruction is selected');
  await panel.locator('#error-message', { hasText: reason }).waitFor({ timeout: 30_000 });
  // The explorer opens the diagnostic's line (core's LineSources), in the source pane and its title.
  await panel
    .locator('#source-list .vrow.selected .ln', { hasText: new RegExp(`^${expectLine}$`) })
    .waitFor({ timeout: 30_000 });
  await panel
    .locator('.source-pane .pane-detail', { hasText: `${fixture}:${expectLine}` })
    .waitFor({ timeout: 30_000 });
  await screenshot(page, join(artifacts, `${shot}-explorer.png`));
}

test(
  'palette → "Verify on test node" → CodeLens names the fault → "Show verifier log" → failing insn highlighted',
  { timeout: 300_000 },
  async () => {
    assert.ok(server && browser);
    const { page } = browser;
    await openWorkbench(page, server.url, workspace);
    try {
      await waitForStatusBarText(page, 'dfs-ebpf.dfs-ebpf.dfsEbpf.bypass', /bypass off/, 60_000); // connected
      await verifyAndExplore(page, FIXTURE, 'null-check', /map_value_or_null/, 'verify');
    } catch (err) {
      await screenshot(page, join(artifacts, 'verify-failure.png')).catch(() => undefined);
      throw err;
    }
  },
);

test(
  'after a resumed path the explorer opens the diagnostic line (23), not the nearest annotation (21)',
  { timeout: 300_000 },
  async () => {
    assert.ok(server && browser);
    const { page } = browser;
    try {
      // bad_return_cgroup_sock: at log level 1 the kernel erases the path that printed line 23,
      // so the annotation nearest the failing exit says 21 (test/fixtures/verifier-logs/README.md).
      await verifyAndExplore(page, RESUMED, 'bad-return', /should have been in \[0, 1\]/, 'verify-resumed');
    } catch (err) {
      await screenshot(page, join(artifacts, 'verify-resumed-failure.png')).catch(() => undefined);
      throw err;
    }
  },
);
