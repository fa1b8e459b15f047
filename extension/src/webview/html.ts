/**
 * The one place webview HTML is built: a nonce CSP (no inline script, no 'unsafe-inline',
 * nothing remote), scripts and styles only from dist/webview under localResourceRoots, and
 * no data in the HTML: state travels by typed postMessage after the webview says `ready`.
 */

import { randomBytes } from 'node:crypto';

export interface WebviewHtmlOptions {
  /** webview.cspSource */
  cspSource: string;
  /** asWebviewUri of dist/webview/<panel>.js */
  scriptUri: string;
  /** asWebviewUri of dist/webview/<panel>.css, if the panel has styles */
  styleUri?: string;
  title: string;
  nonce?: string;
}

export function newNonce(): string {
  return randomBytes(18)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, '');
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

export function webviewHtml(o: WebviewHtmlOptions): string {
  const nonce = o.nonce ?? newNonce();
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${o.cspSource}`,
    `font-src ${o.cspSource}`,
    `img-src ${o.cspSource}`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(o.title)}</title>
${o.styleUri ? `<link rel="stylesheet" href="${escapeHtml(o.styleUri)}">` : ''}
</head>
<body>
<main id="app"></main>
<script nonce="${nonce}" src="${escapeHtml(o.scriptUri)}"></script>
</body>
</html>`;
}
