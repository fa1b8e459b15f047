// Owns the headless Debian Chromium a UI test drives (Playwright, persistent context on a
// fresh profile dir that close() removes) and the workbench helpers the UI tests share:
// open the workbench, run a command from the palette, open a file, wait for a notification,
// read a status bar item, screenshot.
// Selectors (VS Code 1.139 / code-server 4.139.1 DOM):
//   workbench ready     .monaco-workbench, then .part.statusbar (the status bar renders last)
//   palette input       .quick-input-widget .quick-input-box input
//   palette rows        .quick-input-list .monaco-list-row; aria-label and .label-name are
//                       "Category: Title"; the entry div carries data-quick-input-id=<command id>
//   notification        .notifications-toasts .notification-toast (buttons: .monaco-button)
//   status bar item     .statusbar-item with id="<publisher>.<extension-name>.<id>" for
//                       createStatusBarItem('<id>', …); we select [id="…"] because the id holds
//                       dots (no #). Its aria-label is "<codicon name> <text>, <tooltip>", so
//                       we read innerText instead (codicons render no text).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { workbenchUrl } from './codeServer';
import { chromiumPath } from './tools';

/** Flags from the e2e probe: no sandbox as root, no GPU, and no traffic except to 127.0.0.1. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface BrowserOptions {
  readonly viewport?: { readonly width: number; readonly height: number };
  /** Chromium executable; default /usr/lib/chromium/chromium (see tools.ts). */
  readonly executablePath?: string;
  /** Bound on the launch, default 60 s. */
  readonly launchTimeoutMs?: number;
}

export interface BrowserSession {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Closes the browser (bounded) and removes its profile dir. Safe to call twice. */
  close(): Promise<void>;
}

export async function launchBrowser(options: BrowserOptions = {}): Promise<BrowserSession> {
  const profileDir = mkdtempSync(join(tmpdir(), 'dfs-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: options.executablePath ?? chromiumPath(),
      headless: true,
      args: [...CHROMIUM_ARGS],
      viewport: options.viewport ?? { width: 1400, height: 900 },
      timeout: options.launchTimeoutMs ?? 60_000,
    });
  } catch (e) {
    rmSync(profileDir, { recursive: true, force: true });
    throw e;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      try {
        await withTimeout(context.close(), 20_000, 'closing Chromium');
      } finally {
        rmSync(profileDir, { recursive: true, force: true });
      }
    })());
  return { context, page, close };
}

/** Opens the workbench of the code-server at `serverUrl` on `folder` (an empty window when
 *  undefined) and waits until it is usable: the workbench root and status bar are rendered. */
export async function openWorkbench(page: Page, serverUrl: string, folder?: string, timeoutMs = 60_000): Promise<void> {
  await page.goto(workbenchUrl(serverUrl, folder), { timeout: timeoutMs });
  await page.locator('.monaco-workbench').waitFor({ timeout: timeoutMs });
  await page.locator('.part.statusbar').waitFor({ timeout: timeoutMs });
}

export interface RunCommandOptions {
  /** Overall bound including retries, default 30 s. */
  readonly timeoutMs?: number;
  /** How long one palette attempt waits for the row, default 3 s. */
  readonly attemptMs?: number;
  /** Told about each failed attempt (e.g. to print it in a test's log). */
  readonly onRetry?: (attempt: number, listed: readonly string[]) => void;
}

/**
 * Runs a command from the palette (F1) by its title as shown there: "Title" or
 * "Category: Title". The first open often lists "No matching commands" because the palette
 * was built before the remote extension host registered its contributions and does not
 * refresh; we close it (Escape) and try again until the row appears. Resolves once the
 * row is clicked; what the command does is for the caller to wait for.
 */
export async function runCommand(page: Page, title: string, options: RunCommandOptions = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const attemptMs = options.attemptMs ?? 3000;
  const input = page.locator('.quick-input-widget .quick-input-box input');
  const rows = page.locator('.quick-input-list .monaco-list-row');
  for (let attempt = 1; ; attempt++) {
    const row = rows.filter({ has: page.locator('.label-name', { hasText: exactOrCategory(title) }) }).first();
    const wait = (): number => Math.max(1, Math.min(attemptMs, deadline - Date.now()));
    try {
      await page.keyboard.press('F1');
      await input.waitFor({ state: 'visible', timeout: wait() });
      await input.fill(`>${title}`, { timeout: wait() });
      await row.waitFor({ state: 'visible', timeout: wait() });
    } catch (e) {
      const listed = await rows.allInnerTexts().catch(() => []);
      await page.keyboard.press('Escape');
      options.onRetry?.(attempt, listed);
      if (Date.now() >= deadline) {
        throw new Error(
          `command "${title}" not found in the palette after ${attempt} attempts; ` +
            `it listed: ${JSON.stringify(listed)} (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`,
          { cause: e },
        );
      }
      await page.waitForTimeout(500);
      continue;
    }
    // Outside the retry: once clicked, the command runs, and it may open a quick input of
    // its own, so we neither retry nor wait for the palette to close.
    await row.click();
    return;
  }
}

/** Matches a palette label that is exactly `title` or `<Category>: title`. */
function exactOrCategory(title: string): RegExp {
  const escaped = title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^(?:[^:]+: )?${escaped}$`);
}

/**
 * The visible text of a status bar item, trimmed (codicons render no text). `idOrSelector`
 * is either the item's element id, which VS Code sets to `<publisher>.<extension-name>.<id>`
 * for `createStatusBarItem('<id>', …)`, or any CSS selector when it starts with # . [ or
 * contains a space or `>`. Waits (bounded) for the item: extensions activate late.
 */
export async function statusBarText(page: Page, idOrSelector: string, timeoutMs = 30_000): Promise<string> {
  const item = statusBarItem(page, idOrSelector);
  await item.waitFor({ state: 'visible', timeout: timeoutMs });
  return (await item.innerText()).trim();
}

/** Waits until the status bar item's text matches `expected`; returns the text. */
export async function waitForStatusBarText(
  page: Page,
  idOrSelector: string,
  expected: string | RegExp,
  timeoutMs = 30_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await statusBarText(page, idOrSelector, Math.max(1, deadline - Date.now())).catch(() => '');
    if (typeof expected === 'string' ? text === expected : expected.test(text)) return text;
    if (Date.now() >= deadline) {
      throw new Error(`status bar item ${idOrSelector} shows ${JSON.stringify(text)}, expected ${String(expected)}`);
    }
    await page.waitForTimeout(200);
  }
}

function statusBarItem(page: Page, idOrSelector: string): Locator {
  const selector = /^[#.[]|[\s>]/.test(idOrSelector)
    ? idOrSelector
    : `.part.statusbar .statusbar-item[id=${JSON.stringify(idOrSelector)}]`;
  return page.locator(selector).first();
}

/** Quick Open (Ctrl+P) a workspace file by name and wait for its editor tab. */
export async function openFile(page: Page, name: string): Promise<void> {
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor({ state: 'visible', timeout: 30_000 });
  await input.fill(name);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().waitFor({ timeout: 30_000 });
  await input.press('Enter');
  await page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: 30_000 });
}

/** A notification toast whose text matches (bounded wait); click its buttons by their labels. */
export async function waitForNotification(page: Page, text: RegExp, timeoutMs = 60_000): Promise<Locator> {
  const toast = page.locator('.notifications-toasts .notification-toast', { hasText: text }).first();
  await toast.waitFor({ state: 'visible', timeout: timeoutMs });
  return toast;
}

export async function screenshot(page: Page, path: string): Promise<void> {
  await page.screenshot({ path, timeout: 15_000 });
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
