// Owns one code-server instance for a test run: a per-run temp directory (user data,
// extensions, config, XDG dirs and TMPDIR, so nothing touches ~/.config or the system temp
// dir), optional VSIX installs and user settings written before start, the server process
// (its own process group) and its output. Lifecycle: startCodeServer() resolves once
// /healthz answers; stop() kills exactly the processes it started and removes the temp dir.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killProcessTreeNow, runBounded, spawnGroup, stopProcessTree } from './processes';
import { resolveTools, type HarnessTools } from './tools';

export interface CodeServerOptions {
  /** VSIX files installed (with --force) into the fresh extensions dir before start. */
  readonly installExtensions?: readonly string[];
  /** Written to <user-data-dir>/User/settings.json, on top of the harness defaults. */
  readonly settings?: Readonly<Record<string, unknown>>;
  /** Extra environment for the server; the extension host inherits it. */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra code-server arguments (e.g. ['--vscode-option', 'enable-smoke-test-driver']). */
  readonly extraArgs?: readonly string[];
  /** Bound on start-up (VSIX installs excluded), default 60 s. */
  readonly startTimeoutMs?: number;
  readonly tools?: HarnessTools;
}

export interface CodeServerHandle {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** 127.0.0.1:<port>: the remote authority of vscode-remote:// URIs in this server. */
  readonly authority: string;
  readonly pid: number;
  readonly userDataDir: string;
  readonly extensionsDir: string;
  /** The workbench URL, opening `folder` when given and an empty window otherwise. */
  workbenchUrl(folder?: string): string;
  /** The last lines code-server printed, for failure messages. */
  logTail(lines?: number): string;
  /** Resolves (once) when the server process exits, with its code or signal. */
  readonly exited: Promise<string>;
  stop(): Promise<void>;
}

/** Quiet, deterministic defaults: no welcome page, trust prompts, update or telemetry calls. */
const DEFAULT_SETTINGS: Readonly<Record<string, unknown>> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  // VS Code 1.139 opens the Chat view in the secondary side bar at start, focused, and polls
  // for a GitHub session.
  'chat.disableAIFeatures': true,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
};

const LISTENING = /HTTP server listening on (http:\/\/127\.0\.0\.1:(\d+))/;
const LOG_LINES_KEPT = 400;
const INSTALL_TIMEOUT_MS = 120_000;

export async function startCodeServer(options: CodeServerOptions = {}): Promise<CodeServerHandle> {
  const tools = options.tools ?? resolveTools();
  const runDir = mkdtempSync(join(tmpdir(), 'dfs-code-server-'));
  const dirs = {
    userData: join(runDir, 'user-data'),
    extensions: join(runDir, 'extensions'),
    xdgConfig: join(runDir, 'xdg-config'),
    xdgData: join(runDir, 'xdg-data'),
    tmp: join(runDir, 'tmp'),
  };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  const config = join(runDir, 'config.yaml');
  // Our own config, so code-server does not generate one with a password.
  writeFileSync(config, 'bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n');
  mkdirSync(join(dirs.userData, 'User'), { recursive: true });
  writeFileSync(
    join(dirs.userData, 'User', 'settings.json'),
    JSON.stringify({ ...DEFAULT_SETTINGS, ...options.settings }, null, 2) + '\n',
  );

  const env: NodeJS.ProcessEnv = {
    ...inheritedEnv(),
    ...options.env,
    PATH: `${tools.node24BinDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    XDG_CONFIG_HOME: dirs.xdgConfig,
    XDG_DATA_HOME: dirs.xdgData,
    TMPDIR: dirs.tmp,
  };
  const common = ['--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions, '--config', config];

  const removeRunDir = (): void => rmSync(runDir, { recursive: true, force: true });
  try {
    for (const vsix of options.installExtensions ?? []) {
      const args = [tools.codeServerEntry, ...common, '--install-extension', vsix, '--force'];
      const r = await runBounded(tools.node24, args, env, INSTALL_TIMEOUT_MS);
      if (r.code !== 0 || !/successfully installed/i.test(r.output)) {
        throw new Error(`code-server --install-extension ${vsix} failed (exit ${r.code}):\n${r.output}`);
      }
    }
  } catch (e) {
    removeRunDir();
    throw e;
  }

  const args = [
    tools.codeServerEntry,
    ...common,
    '--bind-addr',
    '127.0.0.1:0', // the kernel picks a free port; we read it from the log
    '--auth',
    'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--ignore-last-opened',
    ...(options.extraArgs ?? []),
  ];
  const child = spawnGroup(tools.node24, args, env, dirs.tmp);
  const pid = child.pid;
  if (pid === undefined) {
    removeRunDir();
    throw new Error(`could not spawn ${tools.node24} ${tools.codeServerEntry}`);
  }

  const log: string[] = [];
  let partial = '';
  let onLine: ((line: string) => void) | undefined;
  const collect = (d: Buffer): void => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      log.push(line);
      onLine?.(line);
    }
    if (log.length > LOG_LINES_KEPT) log.splice(0, log.length - LOG_LINES_KEPT);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const logTail = (lines = 40): string => [...log, partial].slice(-lines).join('\n');
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, sig) => resolve(sig ?? `exit code ${code}`));
    child.once('error', (e) => resolve(`spawn error: ${e.message}`));
  });

  // Safety net for an abrupt exit of our process (process.exit, uncaught error): the server
  // runs in its own process group, so nothing else would stop it. Only sync work is possible.
  const killOnExit = (): void => {
    killProcessTreeNow(pid);
    removeRunDir();
  };
  process.once('exit', killOnExit);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      process.removeListener('exit', killOnExit);
      try {
        await stopProcessTree(pid);
      } finally {
        removeRunDir();
      }
    })());

  try {
    const url = await waitForListening(log, (f) => (onLine = f), exited, options.startTimeoutMs ?? 60_000, logTail);
    await waitForHealthz(url, exited, 20_000, logTail);
    const authority = new URL(url).host;
    return {
      url,
      authority,
      pid,
      userDataDir: dirs.userData,
      extensionsDir: dirs.extensions,
      workbenchUrl: (folder?: string) => workbenchUrl(url, folder),
      logTail,
      exited,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * Our environment minus what would change code-server's behaviour behind our back: $PORT
 * overrides --bind-addr, VSCODE_IPC_HOOK_CLI (set in a VS Code terminal) turns
 * `code-server` into a client of that other instance, passwords and tokens have no business
 * in a test server. Pass any of them deliberately through `options.env`.
 */
function inheritedEnv(): NodeJS.ProcessEnv {
  const dropped =
    /^(?:VSCODE_|CODE_SERVER_|CS_|ELECTRON_)|^(?:PORT|PASSWORD|HASHED_PASSWORD|GITHUB_TOKEN|EXTENSIONS_GALLERY)$/;
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !dropped.test(name)));
}

/** The workbench URL of a server: `folder` opened, or an empty window when undefined. */
export function workbenchUrl(serverUrl: string, folder?: string): string {
  const base = serverUrl.replace(/\/+$/, '');
  return folder === undefined ? `${base}/?ew=true` : `${base}/?folder=${encodeURIComponent(folder)}`;
}

async function waitForListening(
  log: readonly string[],
  subscribe: (f: (line: string) => void) => void,
  exited: Promise<string>,
  timeoutMs: number,
  logTail: () => string,
): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<string>((resolve, reject) => {
      const check = (line: string): void => {
        const m = LISTENING.exec(line);
        if (m?.[1] !== undefined) resolve(m[1]);
      };
      log.forEach(check);
      subscribe(check);
      void exited.then((how) => reject(new Error(`code-server exited during start-up (${how}):\n${logTail()}`)));
      timer = setTimeout(
        () => reject(new Error(`code-server did not listen within ${timeoutMs} ms:\n${logTail()}`)),
        timeoutMs,
      );
    });
  } finally {
    clearTimeout(timer);
    subscribe(() => undefined);
  }
}

async function waitForHealthz(
  url: string,
  exited: Promise<string>,
  timeoutMs: number,
  logTail: () => string,
): Promise<void> {
  let exitedHow: string | undefined;
  void exited.then((how) => (exitedHow = how));
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline && exitedHow === undefined) {
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const why = exitedHow !== undefined ? `exited (${exitedHow})` : `last error: ${last}`;
  throw new Error(`code-server ${url}/healthz did not answer within ${timeoutMs} ms, ${why}:\n${logTail()}`);
}
