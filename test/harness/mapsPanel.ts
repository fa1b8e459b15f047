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
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import type { MapsPanelRequest, MapsPanelUpdate } from '../../protocol/src';
import { webviewHtml } from '../../extension/src/webview/html';
import { repoRoot } from '../support/repo';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

/** VS Code's Dark Modern, as far as the panel reads it (names without the --vscode- prefix). */
const DARK: Record<string, string> = {
  foreground: '#cccccc',
  'editor-background': '#1f1f1f',
  'font-family': "system-ui, 'Ubuntu', 'Droid Sans', sans-serif",
  'font-size': '13px',
  'editor-font-family': "'Droid Sans Mono', 'DejaVu Sans Mono', monospace",
  'editor-font-size': '13px',
  descriptionForeground: '#9d9d9d',
  'panel-border': '#2b2b2b',
  'input-background': '#313131',
  'input-foreground': '#cccccc',
  'input-border': '#3c3c3c',
  'input-placeholderForeground': '#989898',
  'dropdown-background': '#313131',
  'dropdown-foreground': '#cccccc',
  'dropdown-border': '#3c3c3c',
  'button-background': '#0078d4',
  'button-foreground': '#ffffff',
  'button-secondaryBackground': '#313131',
  'button-secondaryForeground': '#cccccc',
  'button-secondaryHoverBackground': '#3c3c3c',
  focusBorder: '#0078d4',
  'list-hoverBackground': '#2a2d2e',
  'list-activeSelectionBackground': '#04395e',
  'list-activeSelectionForeground': '#ffffff',
  'list-inactiveSelectionBackground': '#37373d',
  'textPreformat-foreground': '#d0d0d0',
  'textCodeBlock-background': '#2b2b2b',
  'inputValidation-errorBackground': '#5a1d1d',
  'inputValidation-errorBorder': '#be1100',
  errorForeground: '#f85149',
  'editorWarning-foreground': '#cca700',
  'charts-red': '#f14c4c',
  'charts-blue': '#3794ff',
  'charts-green': '#89d185',
  'charts-yellow': '#cca700',
  'charts-orange': '#d18616',
};

/** VS Code's Light Modern, likewise. */
const LIGHT: Record<string, string> = {
  ...DARK,
  foreground: '#3b3b3b',
  'editor-background': '#ffffff',
  descriptionForeground: '#717171',
  'panel-border': '#e5e5e5',
  'input-background': '#ffffff',
  'input-foreground': '#3b3b3b',
  'input-border': '#cecece',
  'input-placeholderForeground': '#767676',
  'dropdown-background': '#ffffff',
  'dropdown-foreground': '#3b3b3b',
  'dropdown-border': '#cecece',
  'button-secondaryBackground': '#e5e5e5',
  'button-secondaryForeground': '#3b3b3b',
  'button-secondaryHoverBackground': '#cccccc',
  'list-hoverBackground': '#f2f2f2',
  'list-activeSelectionBackground': '#e8e8e8',
  'list-activeSelectionForeground': '#000000',
  'list-inactiveSelectionBackground': '#e4e6f1',
  'textPreformat-foreground': '#3b3b3b',
  'textCodeBlock-background': '#f2f2f2',
  'inputValidation-errorBackground': '#f2dede',
  'inputValidation-errorBorder': '#be1100',
  errorForeground: '#a1260d',
  'editorWarning-foreground': '#bf8803',
  'charts-red': '#e51400',
  'charts-blue': '#1a85ff',
  'charts-green': '#388a34',
  'charts-yellow': '#bf8803',
};

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
  const dist = join(repoRoot(), 'dist', 'webview');
  for (const f of ['maps.js', 'maps.css']) {
    if (!existsSync(join(dist, f))) throw new Error(`${dist}/${f} is missing: run npm run build`);
  }
  let origin = '';
  const themeCss = (t: 'dark' | 'light'): string =>
    `:root {\n${Object.entries(t === 'dark' ? DARK : LIGHT)
      .map(([k, v]) => `  --vscode-${k}: ${v};`)
      .join('\n')}\n}\n`;
  const page = (t: 'dark' | 'light'): string => {
    const nonce = 'harness0nonce';
    const html = webviewHtml({
      cspSource: origin,
      scriptUri: `${origin}/webview/maps.js`,
      styleUri: `${origin}/webview/maps.css`,
      title: 'Map inspector',
      nonce,
    });
    return html
      .replace('<body>', `<body class="vscode-${t}">`)
      .replace('</title>', `</title>\n<link rel="stylesheet" href="${origin}/theme-${t}.css">`)
      .replace(
        '<main id="app"></main>',
        `<main id="app"></main>\n<script nonce="${nonce}" src="${origin}/shim.js"></script>`,
      );
  };
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    const send = (status: number, body: Buffer | string, type = 'text/plain'): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (path === '/' || path === '/light') return send(200, page(path === '/light' ? 'light' : 'dark'), TYPES['.html']);
    if (path === '/favicon.ico') return send(204, '');
    if (path === '/shim.js') return send(200, SHIM, TYPES['.js']);
    if (path === '/theme-dark.css' || path === '/theme-light.css') {
      return send(200, themeCss(path.includes('dark') ? 'dark' : 'light'), TYPES['.css']);
    }
    if (path.startsWith('/webview/')) {
      const file = normalize(join(dist, path.slice('/webview/'.length)));
      if (!file.startsWith(dist) || !existsSync(file)) return send(404, 'not found');
      return send(200, readFileSync(file), TYPES[extname(file)] ?? 'application/octet-stream');
    }
    send(404, 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: origin,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
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
