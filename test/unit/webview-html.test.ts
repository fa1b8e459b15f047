// Webview HTML (extension/src/webview/html.ts): a nonce CSP with no inline or remote code,
// the script and style only from the webview's own resource root, and no data in the page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webviewHtml } from '../../extension/src/webview/html';

const html = webviewHtml({
  cspSource: 'https://file+.vscode-resource.example',
  scriptUri: 'https://file+.vscode-resource.example/dist/webview/bypass.js',
  styleUri: 'https://file+.vscode-resource.example/dist/webview/bypass.css',
  title: 'Bypass <on> & "off"',
  nonce: 'abc123',
});

test('the CSP allows only the nonce script and the resource root; nothing inline, nothing remote', () => {
  const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'nonce-abc123'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*|https?:\/\/(?!file\+)/);
  assert.match(
    html,
    /<script nonce="abc123" src="https:\/\/file\+\.vscode-resource\.example\/dist\/webview\/bypass\.js"><\/script>/,
  );
  assert.equal((html.match(/<script/g) ?? []).length, 1, 'one script element, no inline script');
});

test('text is escaped and no state is embedded in the page', () => {
  assert.match(html, /<title>Bypass &lt;on&gt; &amp; &quot;off&quot;<\/title>/);
  assert.doesNotMatch(html, /redirected|counters|"attached"/);
});

test('a fresh nonce each time when none is given', () => {
  const a = webviewHtml({ cspSource: 'x', scriptUri: 'x/y.js', title: 't' });
  const b = webviewHtml({ cspSource: 'x', scriptUri: 'x/y.js', title: 't' });
  const nonce = (h: string) => /nonce-([A-Za-z0-9]+)/.exec(h)?.[1];
  assert.ok(nonce(a) && nonce(a)!.length >= 16);
  assert.notEqual(nonce(a), nonce(b));
});
