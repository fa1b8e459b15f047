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
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { repoRoot } from '../support/repo';
import { serveFrom, startWebviewServer } from './webviewServer';

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
  const speedscope = join(repoRoot(), 'node_modules', 'speedscope', 'dist', 'release');
  const data = new Map<string, Buffer>();
  const server = await startWebviewServer({
    bundle: 'profile',
    title: 'Profile',
    shim: SHIM,
    defaultTheme: theme,
    // The one change to the product's CSP: connect-src for the shim's fetch of /data/.
    connectSrc: true,
    route: (path, send) => {
      if (path.startsWith('/data/')) {
        const b = data.get(path.slice(6));
        if (b) send(200, b, 'application/octet-stream');
        else send(404, 'no such data');
        return true;
      }
      if (path.startsWith('/speedscope/')) {
        serveFrom(speedscope, path.slice('/speedscope/'.length) || 'index.html', send);
        return true;
      }
      return false;
    },
  });
  return {
    url: server.url,
    put(name, bytes) {
      data.set(name, typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
      return `${server.url}/data/${name}`;
    },
    close: () => server.close(),
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
