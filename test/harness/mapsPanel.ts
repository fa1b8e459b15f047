// A stand-in for the VS Code host of the map inspector webview, for its screenshots and
// timings ONLY (not a test of the extension: the real host is extension/src/webview/
// mapsPanel.ts with a PanelHost). Like test/harness/profileViewer.ts, it serves from 127.0.0.1
// on an ephemeral port:
//   /, /light   the panel's HTML, built by the extension's own webviewHtml (the product's nonce
//               CSP, unchanged), plus a theme stylesheet with a stand-in for VS Code's Dark
//               Modern (or Light Modern) --vscode-* variables and the acquireVsCodeApi shim
//   /webview/*  dist/webview/ (maps.js and maps.css: npm run build)
// The shim records every message the panel posts (window.__posted, and when: __postedAt) and hands each one to the
// Node side through a Playwright binding (`__toHost`), where a MapsHost answers like the real
// host would (with rows sliced from a synthetic map); host messages reach the panel by
// window.postMessage, which structured-clones them as VS Code's webview does.
import type { Page } from 'playwright-core';
import type { MapsPanelRequest, MapsPanelUpdate } from '../../protocol/src';
import { startWebviewServer } from './webviewServer';

const SHIM = `// acquireVsCodeApi stand-in: records what the panel posts and hands it to the harness.
window.__posted = [];
window.__postedAt = [];
window.acquireVsCodeApi = () => ({
  postMessage: (m) => {
    window.__posted.push(m);
    window.__postedAt.push(performance.now());
    if (typeof window.__toHost === 'function') void window.__toHost(m);
  },
  getState: () => undefined,
  setState: () => undefined,
});
`;

export interface MapsServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startMapsServer(): Promise<MapsServer> {
  return startWebviewServer({ bundle: 'maps', title: 'Map inspector', shim: SHIM });
}

/** Answers the panel's requests: messages to post back (none for a request it ignores). */
export type MapsHost = (m: MapsPanelRequest) => MapsPanelUpdate[] | Promise<MapsPanelUpdate[]>;

/** Posts host messages to the panel, as VS Code's webview.postMessage would. */
export async function pushUpdates(page: Page, updates: MapsPanelUpdate[]): Promise<void> {
  if (updates.length === 0) return;
  // As JSON text: Playwright's own argument serialisation walks every object and costs far more
  // than the panel's work for a window of rows (VS Code sends JSON too).
  await page.evaluate((text) => {
    const w = globalThis as unknown as { postMessage(m: unknown, origin: string): void };
    for (const m of JSON.parse(text) as unknown[]) w.postMessage(m, '*');
  }, JSON.stringify(updates));
}

/**
 * Opens the panel with `host` answering it (`ready` included) and waits for its `ready`. The
 * binding stays for the page's life; `setHost` changes who answers (one page, many scenarios).
 */
export async function openMapsPanel(
  page: Page,
  server: MapsServer,
  host: MapsHost,
  theme: 'dark' | 'light' = 'dark',
): Promise<{ setHost(h: MapsHost): void; posted(): Promise<MapsPanelRequest[]> }> {
  let current = host;
  await page.exposeBinding('__toHost', async (_source, m: MapsPanelRequest) => {
    const answers = await current(m);
    await pushUpdates(page, answers);
  });
  await page.goto(theme === 'light' ? `${server.url}/light` : server.url);
  await page.waitForFunction(() =>
    (globalThis as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === 'ready'),
  );
  return {
    setHost(h) {
      current = h;
    },
    posted: () => page.evaluate(() => (globalThis as unknown as { __posted: MapsPanelRequest[] }).__posted),
  };
}
