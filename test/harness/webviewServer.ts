// The one server behind the webview harnesses (test/harness/profileViewer.ts, mapsPanel.ts):
// a stand-in for VS Code's webview host, for benches and screenshots ONLY. From 127.0.0.1 on
// an ephemeral port it serves:
//   /, /light    the panel's HTML, built by the extension's own webviewHtml (the product's nonce
//                CSP; `connectSrc` adds connect-src for a shim that fetches), with a theme
//                stylesheet standing in for VS Code's Dark Modern or Light Modern --vscode-*
//                variables and the caller's acquireVsCodeApi shim (nonce'd)
//   /webview/*   dist/webview/ (npm run build)
//   anything else the caller's `route` answers.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import { webviewHtml } from '../../extension/src/webview/html';
import { repoRoot } from '../support/repo';

export const TYPES: Record<string, string> = {
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

/** VS Code's Dark Modern, as far as the panels read it (names without the --vscode- prefix). */
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
  'editor-font-size': '13px',
  'input-placeholderForeground': '#989898',
  'dropdown-background': '#313131',
  'dropdown-foreground': '#cccccc',
  'dropdown-border': '#3c3c3c',
  'list-activeSelectionBackground': '#04395e',
  'list-activeSelectionForeground': '#ffffff',
  'list-inactiveSelectionBackground': '#37373d',
  'textPreformat-foreground': '#d0d0d0',
  'textCodeBlock-background': '#2b2b2b',
  'inputValidation-errorBackground': '#5a1d1d',
  'inputValidation-errorBorder': '#be1100',
};

/** VS Code's Light Modern, likewise (names without the --vscode- prefix). */
const LIGHT: Record<string, string> = {
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
  'input-placeholderForeground': '#767676',
  'dropdown-background': '#ffffff',
  'dropdown-foreground': '#3b3b3b',
  'dropdown-border': '#cecece',
  'list-activeSelectionBackground': '#e8e8e8',
  'list-activeSelectionForeground': '#000000',
  'list-inactiveSelectionBackground': '#e4e6f1',
  'textPreformat-foreground': '#3b3b3b',
  'textCodeBlock-background': '#f2f2f2',
  'inputValidation-errorBackground': '#f2dede',
  'inputValidation-errorBorder': '#be1100',
  errorForeground: '#a1260d',
  'editorWarning-foreground': '#bf8803',
};

export type Send = (status: number, body: Buffer | string, type?: string) => void;

export interface WebviewServerOptions {
  /** Bundle name under dist/webview/ (<bundle>.js and <bundle>.css). */
  bundle: string;
  title: string;
  /** The acquireVsCodeApi shim, served as /shim.js. */
  shim: string;
  defaultTheme?: 'dark' | 'light';
  /** Allow the shim's fetch of this server (connect-src). */
  connectSrc?: boolean;
  /** Other paths; return true when answered. */
  route?: (path: string, send: Send, req: IncomingMessage) => boolean;
}

export interface WebviewServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Serve a file of `dir` (no escaping it), or 404. */
export function serveFrom(dir: string, rel: string, send: Send): void {
  const file = normalize(join(dir, rel));
  if (!file.startsWith(dir) || !existsSync(file)) return send(404, 'not found');
  send(200, readFileSync(file), TYPES[extname(file)] ?? 'application/octet-stream');
}

export async function startWebviewServer(o: WebviewServerOptions): Promise<WebviewServer> {
  const dist = join(repoRoot(), 'dist', 'webview');
  for (const f of [`${o.bundle}.js`, `${o.bundle}.css`]) {
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
      scriptUri: `${origin}/webview/${o.bundle}.js`,
      styleUri: `${origin}/webview/${o.bundle}.css`,
      title: o.title,
      nonce,
    });
    return (o.connectSrc ? html.replace("default-src 'none'", `default-src 'none'; connect-src ${origin}`) : html)
      .replace('<body>', `<body class="vscode-${t}">`)
      .replace('</title>', `</title>\n<link rel="stylesheet" href="${origin}/theme-${t}.css">`)
      .replace(
        '<main id="app"></main>',
        `<main id="app"></main>\n<script nonce="${nonce}" src="${origin}/shim.js"></script>`,
      );
  };
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    const send: Send = (status, body, type = 'text/plain') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (path === '/' || path === '/light') {
      return send(200, page(path === '/light' ? 'light' : (o.defaultTheme ?? 'dark')), TYPES['.html']);
    }
    if (path === '/favicon.ico') return send(204, '');
    if (path === '/shim.js') return send(200, o.shim, TYPES['.js']);
    if (path === '/theme-dark.css' || path === '/theme-light.css') {
      return send(200, themeCss(path.includes('dark') ? 'dark' : 'light'), TYPES['.css']);
    }
    if (path.startsWith('/webview/')) return serveFrom(dist, path.slice('/webview/'.length), send);
    if (o.route?.(path, send, req)) return;
    send(404, 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url: origin, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
