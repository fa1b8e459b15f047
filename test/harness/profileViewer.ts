// A stand-in for the VS Code host of the profile viewer, for the viewer bench and its
// screenshots ONLY (not a test of the extension: the real host is extension/src/webview/ with
// a PanelHost). It serves, from 127.0.0.1 on an ephemeral port:
//   /           the panel's HTML, built by the extension's own webviewHtml (same nonce CSP),
//               plus a theme stylesheet with a stand-in for VS Code's Dark Modern (or Light
//               Modern) --vscode-* variables and a minimal acquireVsCodeApi shim (both nonce'd
//               or same-origin; the CSP is the product's plus connect-src for the shim's fetch)
//   /webview/*  dist/webview/ (npm run build)
//   /data/NAME  byte payloads registered by the caller (host messages, speedscope files)
//   /speedscope/* speedscope's release app from node_modules (the comparison in the bench)
// The shim records every message the panel posts (window.__posted) and decodes host messages
// that the caller encoded with encodeHostMessage (JSON with Uint8Array parts kept binary, so a
// 100,000-stack FlameWire travels as bytes like VS Code sends it); the page posts them to
// itself with window.postMessage, which structured-clones them as VS Code's webview does.
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { webviewHtml } from '../../extension/src/webview/html';
import { repoRoot } from '../support/repo';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2',
  '.png': 'image/png',
  '.txt': 'text/plain',
};

const DARK: Record<string, string> = {
  foreground: '#cccccc',
  'editor-background': '#1f1f1f',
  'font-family': "system-ui, 'Ubuntu', 'Droid Sans', sans-serif",
  'font-size': '13px',
  'editor-font-family': "'Droid Sans Mono', 'DejaVu Sans Mono', monospace",
  descriptionForeground: '#9d9d9d',
  'panel-border': '#2b2b2b',
  'input-background': '#313131',
  'input-foreground': '#cccccc',
  'input-border': '#3c3c3c',
  'button-background': '#0078d4',
  'button-foreground': '#ffffff',
  'button-secondaryBackground': '#313131',
  'button-secondaryForeground': '#cccccc',
  'button-secondaryHoverBackground': '#3c3c3c',
  focusBorder: '#0078d4',
  'textLink-foreground': '#4daafc',
  'editorHoverWidget-background': '#202020',
  'editorHoverWidget-foreground': '#cccccc',
  'editorHoverWidget-border': '#454545',
  'widget-shadow': 'rgba(0, 0, 0, 0.36)',
  'charts-red': '#f14c4c',
  'charts-blue': '#3794ff',
  'charts-green': '#89d185',
  'charts-yellow': '#cca700',
  'charts-orange': '#d18616',
  'editorWarning-foreground': '#cca700',
  errorForeground: '#f85149',
  'list-hoverBackground': '#2a2d2e',
};

const LIGHT: Record<string, string> = {
  ...DARK,
  foreground: '#3b3b3b',
  'editor-background': '#ffffff',
  descriptionForeground: '#717171',
  'panel-border': '#e5e5e5',
  'input-background': '#ffffff',
  'input-foreground': '#3b3b3b',
  'input-border': '#cecece',
  'button-secondaryBackground': '#e5e5e5',
  'button-secondaryForeground': '#3b3b3b',
  'button-secondaryHoverBackground': '#cccccc',
  'textLink-foreground': '#005fb8',
  'editorHoverWidget-background': '#f8f8f8',
  'editorHoverWidget-foreground': '#3b3b3b',
  'editorHoverWidget-border': '#c8c8c8',
  'widget-shadow': 'rgba(0, 0, 0, 0.16)',
  'charts-red': '#e51400',
  'charts-blue': '#1a85ff',
  'charts-green': '#388a34',
  'charts-yellow': '#bf8803',
  'list-hoverBackground': '#f2f2f2',
};

const SHIM = `// acquireVsCodeApi stand-in: records what the panel posts; decodes host messages.
window.__posted = [];
window.acquireVsCodeApi = () => ({
  postMessage: (m) => window.__posted.push(m),
  getState: () => undefined,
  setState: () => undefined,
});
window.__decodeHostMessage = (buf) => {
  const view = new DataView(buf);
  const headerLength = view.getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, headerLength)));
  let at = 4 + headerLength;
  const parts = header.parts.map((n) => { const p = new Uint8Array(buf.slice(at, at + n)); at += n; return p; });
  return JSON.parse(JSON.stringify(header.message), (k, v) =>
    v && typeof v === 'object' && typeof v.__bytes === 'number' ? parts[v.__bytes] : v);
};
window.__loadHostMessage = async (url) => window.__decodeHostMessage(await (await fetch(url)).arrayBuffer());
`;

/** A host message with Uint8Array parts → bytes the shim decodes (see the header). */
export function encodeHostMessage(message: unknown): Buffer {
  const parts: Uint8Array[] = [];
  const json = JSON.stringify(message, (_k, v: unknown) => {
    if (v instanceof Uint8Array) {
      parts.push(v);
      return { __bytes: parts.length - 1 };
    }
    return v;
  });
  const header = Buffer.from(
    JSON.stringify({ message: JSON.parse(json) as unknown, parts: parts.map((p) => p.byteLength) }),
  );
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.byteLength);
  return Buffer.concat([len, header, ...parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))]);
}

export interface ViewerServer {
  readonly url: string;
  /** Serves `bytes` at /data/NAME. */
  put(name: string, bytes: Buffer | string): string;
  close(): Promise<void>;
}

export async function startViewerServer(theme: 'dark' | 'light' = 'dark'): Promise<ViewerServer> {
  const root = repoRoot();
  const dist = join(root, 'dist', 'webview');
  const speedscope = join(root, 'node_modules', 'speedscope', 'dist', 'release');
  if (!existsSync(join(dist, 'profile.js'))) throw new Error(`${dist}/profile.js is missing: run npm run build`);
  const data = new Map<string, Buffer>();
  let origin = '';
  const themeCss = (t: 'dark' | 'light'): string =>
    `:root {\n${Object.entries(t === 'dark' ? DARK : LIGHT)
      .map(([k, v]) => `  --vscode-${k}: ${v};`)
      .join('\n')}\n}\n`;
  const page = (t: 'dark' | 'light'): string => {
    const nonce = 'harness0nonce';
    const html = webviewHtml({
      cspSource: origin,
      scriptUri: `${origin}/webview/profile.js`,
      styleUri: `${origin}/webview/profile.css`,
      title: 'Profile',
      nonce,
    });
    // The one change to the product's CSP: connect-src for the shim's fetch of /data/ (the
    // panel itself fetches nothing).
    return html
      .replace("default-src 'none'", `default-src 'none'; connect-src ${origin}`)
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
    if (path === '/' || path === '/light') return send(200, page(path === '/light' ? 'light' : theme), TYPES['.html']);
    if (path === '/favicon.ico') return send(204, '');
    if (path === '/shim.js') return send(200, SHIM, TYPES['.js']);
    if (path === '/theme-dark.css' || path === '/theme-light.css') {
      return send(200, themeCss(path.includes('dark') ? 'dark' : 'light'), TYPES['.css']);
    }
    if (path.startsWith('/data/')) {
      const b = data.get(path.slice(6));
      return b ? send(200, b, 'application/octet-stream') : send(404, 'no such data');
    }
    const serveFrom = (dir: string, rel: string): void => {
      const file = normalize(join(dir, rel));
      if (!file.startsWith(dir) || !existsSync(file)) return send(404, 'not found');
      send(200, readFileSync(file), TYPES[extname(file)] ?? 'application/octet-stream');
    };
    if (path.startsWith('/webview/')) return serveFrom(dist, path.slice('/webview/'.length));
    if (path.startsWith('/speedscope/'))
      return serveFrom(speedscope, path.slice('/speedscope/'.length) || 'index.html');
    send(404, 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: origin,
    put(name, bytes) {
      data.set(name, typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
      return `${origin}/data/${name}`;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Opens the viewer and waits for its `ready`. */
export async function openViewer(page: Page, server: ViewerServer, theme?: 'light'): Promise<void> {
  await page.goto(theme === 'light' ? `${server.url}/light` : server.url);
  await page.waitForFunction(() =>
    (globalThis as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === 'ready'),
  );
}

/**
 * Posts the host message at `dataUrl` to the viewer and waits for the frame after its first
 * draw; returns the viewer's own User Timing entries (ms) and the time from the post.
 */
export async function loadInViewer(
  page: Page,
  dataUrl: string,
): Promise<{
  load: number;
  decode: number;
  tree: number;
  draw: number;
  fromPost: number;
  treeFull: number;
  warmUp: number;
}> {
  return page.evaluate(async (url) => {
    const w = globalThis as unknown as {
      __loadHostMessage(u: string): Promise<unknown>;
      postMessage(m: unknown, origin: string): void;
    };
    const msg = await w.__loadHostMessage(url);
    const before = performance.getEntriesByName('profile:load').length;
    const fullBefore = performance.getEntriesByName('profile:tree-full').length;
    const posted = performance.now();
    w.postMessage(msg, '*');
    for (;;) {
      await new Promise((r) => setTimeout(r, 5));
      if (performance.getEntriesByName('profile:load').length > before) break;
    }
    // The full tree, built after the first paint (absent when the first tree was complete).
    for (let waited = 0; waited < 5000; waited += 10) {
      if (performance.getEntriesByName('profile:tree-full').length > fullBefore) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const full = performance.getEntriesByName('profile:tree-full');
    const last = (name: string): { startTime: number; duration: number } => performance.getEntriesByName(name).at(-1)!;
    const load = last('profile:load');
    return {
      load: load.duration,
      decode: last('profile:decode').duration,
      tree: last('profile:tree').duration,
      draw: last('profile:draw').duration,
      fromPost: load.startTime + load.duration - posted,
      treeFull: full.length > fullBefore ? full.at(-1)!.duration : 0,
      warmUp: performance.getEntriesByName('profile:warm-up').at(-1)?.duration ?? 0,
    };
  }, dataUrl);
}
