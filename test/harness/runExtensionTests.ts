// Owns one run of a mocha suite (test-electron layout: a module exporting run()) inside
// code-server's Node extension host, driven by headless Chromium. The workbench is told about
// the extension under development and the suite through its configuration <meta> (rewritten
// by an init script before workbench.js reads it), exactly as @vscode/test-web does; when the
// suite settles the workbench calls window.codeAutomationExit(code), which we expose.
// Lifecycle: everything started here (code-server, Chromium, temp dirs) is stopped in
// `finally`, on success, failure, timeout or abort. Extension-host console output is
// forwarded to our stdout; the rest of the browser console is kept for failure messages.
import { format } from 'node:util';
import type { ConsoleMessage } from 'playwright-core';
import { launchBrowser } from './browser';
import { startCodeServer, workbenchUrl, type CodeServerHandle } from './codeServer';

export interface ExtensionTestOptions {
  /** Absolute path(s) of the extension(s) under development (package.json directories). */
  readonly extensionDevelopmentPath: string | readonly string[];
  /** Absolute path of the compiled suite entry (e.g. out/test/extension/index.js). */
  readonly extensionTestsPath: string;
  /** Folder opened in the workbench; an empty window when undefined. */
  readonly workspaceFolder?: string;
  /** Environment for the extension host (given to code-server, which it inherits). */
  readonly extensionHostEnv?: Readonly<Record<string, string>>;
  /** User settings (User/settings.json). */
  readonly settings?: Readonly<Record<string, unknown>>;
  /** Extra VSIX files installed before start (e.g. extension dependencies). */
  readonly installExtensions?: readonly string[];
  /** Bound on the whole run, default 10 minutes. */
  readonly timeoutMs?: number;
  /** Aborting stops the run and everything it started; the promise then rejects. */
  readonly signal?: AbortSignal;
  /** Where extension-host output goes, default process.stdout. */
  readonly write?: (text: string) => void;
}

export class ExtensionTestTimeoutError extends Error {
  constructor(timeoutMs: number, diagnostics: string) {
    super(
      `extension tests did not finish within ${Math.round(timeoutMs / 1000)} s: the suite's run() ` +
        `never settled or the workbench never started it (see the lines below)\n${diagnostics}`,
    );
    this.name = 'ExtensionTestTimeoutError';
  }
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const CONSOLE_LINES_KEPT = 60;
const OUTPUT_BINDING = 'dfsExtensionHostOutput';

/** Runs the suite and resolves with its exit code (0 = all passed). Rejects when the run
 *  itself breaks: tools missing, code-server dying, the page crashing, timeout or abort. */
export async function runExtensionTests(options: ExtensionTestOptions): Promise<number> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const write = options.write ?? ((text: string) => void process.stdout.write(text));
  const started = Date.now();
  const otherConsole: string[] = [];
  const keep = (line: string): void => {
    otherConsole.push(line);
    if (otherConsole.length > CONSOLE_LINES_KEPT) otherConsole.shift();
  };

  // Started in parallel; kept as promises so teardown can stop them even when a timeout or
  // abort interrupted their start (both starts are bounded on their own).
  const serverStarting = startCodeServer({
    env: options.extensionHostEnv,
    settings: options.settings,
    installExtensions: options.installExtensions,
  });
  const browserStarting = launchBrowser();
  serverStarting.catch(() => undefined);
  browserStarting.catch(() => undefined);
  let server: CodeServerHandle | undefined;

  const diagnostics = (): string =>
    [
      '--- last browser console lines ---',
      ...otherConsole,
      '--- last code-server lines ---',
      server?.logTail() ?? '(not started)',
    ].join('\n');

  // Rejected by a timeout, an abort, code-server exiting or the page crashing; everything
  // below races it.
  let failWith: ((e: Error) => void) | undefined;
  const failed = new Promise<never>((_, reject) => (failWith = reject));
  const timer = setTimeout(() => failWith?.(new ExtensionTestTimeoutError(timeoutMs, diagnostics())), timeoutMs);
  const onAbort = (): void => failWith?.(new Error('extension test run aborted'));
  if (options.signal?.aborted === true) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const run = async (): Promise<number> => {
    server = await serverStarting;
    void server.exited.then((how) =>
      failWith?.(new Error(`code-server exited during the test run (${how}):\n${diagnostics()}`)),
    );
    const { page } = await browserStarting;

    let exitWith: ((code: number) => void) | undefined;
    const exitCode = new Promise<number>((resolve) => (exitWith = resolve));
    await page.exposeFunction('codeAutomationExit', (code: unknown) => {
      exitWith?.(typeof code === 'number' ? code : 1);
    });
    await page.exposeFunction(OUTPUT_BINDING, (_level: unknown, args: unknown) => {
      write(formatExtensionHostLine(Array.isArray(args) ? args : [args]) + '\n');
    });
    const devPaths = options.extensionDevelopmentPath;
    await page.addInitScript(
      pageScript(typeof devPaths === 'string' ? [devPaths] : devPaths, options.extensionTestsPath),
    );
    page.on('console', (msg) => keep(`[${msg.type()}] ${consoleText(msg)}`));
    page.on('pageerror', (e) => keep(`[pageerror] ${e.message}`));
    page.on('crash', () => failWith?.(new Error(`the workbench page crashed\n${diagnostics()}`)));

    await page.goto(workbenchUrl(server.url, options.workspaceFolder), { timeout: 60_000 });
    const code = await exitCode;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stderr.write(`[harness] extension tests exited with ${code} after ${seconds} s\n`);
    return code;
  };

  const running = run();
  running.catch(() => undefined); // when `failed` wins, run() rejects later as we tear down
  try {
    return await Promise.race([running, failed]);
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    failWith = undefined;
    // Chromium first: closing the page ends the extension host's connection cleanly.
    const browser = await browserStarting.catch(() => undefined);
    await browser?.close().catch((e: unknown) => process.stderr.write(`[harness] ${String(e)}\n`));
    const startedServer = await serverStarting.catch(() => undefined);
    await startedServer?.stop();
  }
}

/**
 * Page script run before any of the workbench's own (a Playwright init script, so it is a
 * self-contained string: this package is type-checked without DOM types). Top frame only:
 * webviews are frames too. It does two things.
 * 1. Rewrites the workbench configuration <meta> so developmentOptions name the extension
 *    under development and the suite as vscode-remote:// URIs on this server, before
 *    workbench.js reads it (what @vscode/test-web does on its own server).
 * 2. Picks the extension host's console output out of the page console. In this test mode
 *    the workbench logs those lines through its log service with no "[Extension Host]"
 *    prefix, so they look like the workbench's own log lines; what tells them apart is that
 *    they are logged from MainThreadConsole.$logExtensionHostMessage, an RPC method whose
 *    name survives minification. Those calls go to the exposed binding instead.
 */
function pageScript(extensions: readonly string[], testsPath: string): string {
  const cfg = JSON.stringify({ extensions, testsPath, binding: OUTPUT_BINDING });
  return `(() => {
  const cfg = ${cfg};
  if (window.top !== window) return;
  const remote = (path) => ({ scheme: 'vscode-remote', authority: location.host, path });
  const rewrite = (el) => {
    const raw = el.getAttribute('data-settings');
    if (raw === null) return false;
    const settings = JSON.parse(raw);
    settings.developmentOptions = {
      ...settings.developmentOptions,
      extensions: cfg.extensions.map(remote),
      extensionTestsPath: remote(cfg.testsPath),
    };
    el.setAttribute('data-settings', JSON.stringify(settings));
    return true;
  };
  const observer = new MutationObserver(() => {
    const el = document.getElementById('vscode-workbench-web-configuration');
    if (el !== null && rewrite(el)) observer.disconnect();
  });
  observer.observe(document, { childList: true, subtree: true });

  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    const original = console[level];
    console[level] = function (...args) {
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 40;
      const stack = new Error().stack || '';
      Error.stackTraceLimit = limit;
      if (stack.includes('$logExtensionHostMessage') && typeof window[cfg.binding] === 'function') {
        window[cfg.binding](level, args);
        return;
      }
      return original.apply(this, args);
    };
  }
})();`;
}

/** Formats one extension-host console call as Node would have printed it, without the
 *  log service's "%c INFO" + style prefix (or the "%c[Extension Host] %c" one). */
export function formatExtensionHostLine(args: readonly unknown[]): string {
  let rest = [...args];
  const first = rest[0];
  if (typeof first === 'string' && /^%c\s*[A-Z]+$/.test(first)) {
    rest = rest.slice(2);
  } else if (typeof first === 'string' && first.startsWith('%c[Extension Host] %c')) {
    rest = [first.slice('%c[Extension Host] %c'.length), ...rest.slice(3)];
  }
  return format(...rest);
}

/** Console text without the %c style directives of VS Code's console logger. */
function consoleText(msg: ConsoleMessage): string {
  return msg.text().replace(/%c/g, '');
}
