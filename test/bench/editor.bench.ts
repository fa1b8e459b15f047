// The end-to-end save → diagnostic figure through the real editor (issue 6, item 10): the
// packaged .vsix in code-server, driven in headless Chromium, connected to a local test node.
// Each round drops a NULL check in bpf/bypass.bpf.c (`return p && (p->flags …` loses its `p && `,
// so the verifier rejects the sock_ops program), presses Ctrl+S and times, inside the page, from that keypress to the first frame
// that shows the verifier's squiggle; then puts the check back, saves and times until the
// squiggle is gone. In the same rounds, rotating which goes first, it times on the same
// content the by-hand floor (clang + bpftool prog loadall: core/src/bench/verifyLoop.ts
// byHandMs, as `bench verify` runs it) and core's save path over its own session
// (verifySourceOnNode, what the editor calls and `bench verify` times). Prints medians, p90 and
// the ratio editor / by hand (the aim is ≤ 1.2); asserts nothing. Not part of any test tier:
//   npm run package && npm run build && node out/test/bench/editor.bench.js [--rounds N] [--json]
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { NodeSession } from '../../core/src/agent/session';
import { loopTimes, byHandMs, type LoopTimes } from '../../core/src/bench/verifyLoop';
import { round3 } from '../../core/src/bench/stats';
import { nodeKernelHeaders } from '../../core/src/build/vmlinux';
import { nullLogger } from '../../core/src/log';
import { resolveTarget } from '../../core/src/ssh/target';
import { nodeDown } from '../../core/src/testnode';
import { verifySourceOnNode } from '../../core/src/verifier/verify';
import {
  launchBrowser,
  openWorkbench,
  screenshot,
  waitForStatusBarText,
  type BrowserSession,
} from '../harness/browser';
import { startCodeServer, type CodeServerHandle } from '../harness/codeServer';
import { upNode } from '../support/node';
import { repoRoot } from '../support/repo';

const NAME = 'dfsvebench';
const SOURCE = 'bypass.bpf.c';
/** The edit: `return p && (p->flags …` → `return (p->flags …`, a HASH lookup used unchecked. */
const CHECK = 'p && ';
const CHECKED = /^(\s*return )p && (\(p->flags)/;

interface Figures {
  editor: LoopTimes;
  /** Inside the extension: the save event to diagnostics published (the service's own figure). */
  save_handler: LoopTimes;
  core: LoopTimes;
  by_hand: LoopTimes;
  /** editor / by hand, medians: 1.2 means the editor takes 20% longer than the floor. */
  editor_over_by_hand: number;
  /** core / by hand, medians. */
  core_over_by_hand: number;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const say = (s: string): void => void process.stderr.write(`[bench-editor] ${s}\n`);

/** A copy of bpf/bypass.bpf.c and its header in `dir`, with the check dropped when `broken`. */
function writeSource(dir: string, broken: boolean, bugLine: number): string {
  mkdirSync(dir, { recursive: true });
  cpSync(join(repoRoot(), 'bpf/bypass.h'), join(dir, 'bypass.h'));
  const lines = readFileSync(join(repoRoot(), 'bpf', SOURCE), 'utf8').split('\n');
  if (broken) lines[bugLine - 1] = (lines[bugLine - 1] ?? '').replace(CHECKED, '$1$2');
  writeFileSync(join(dir, SOURCE), lines.join('\n'));
  return join(dir, SOURCE);
}

/** What the in-page timer uses of the browser (this file is type-checked without DOM types). */
interface BenchWindow {
  __dfsBench: { armed: boolean; want: boolean; t0: number; t1: number };
  document: {
    body: unknown;
    addEventListener(type: 'keydown', cb: (e: { ctrlKey: boolean; key: string }) => void, capture: boolean): void;
    querySelector(selector: string): unknown;
  };
  MutationObserver: new (cb: () => void) => {
    observe(target: unknown, o: Record<string, unknown>): void;
    disconnect(): void;
  };
  requestAnimationFrame(cb: () => void): number;
  performance: { now(): number };
}

/**
 * Timing inside the page: from a Ctrl+S keydown to the first frame after the squiggle is
 * inserted into (or removed from) the editor's DOM. A MutationObserver watches, so the page
 * is not forced to draw a frame per check: the timer itself costs the machine nothing.
 */
async function installTimer(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = globalThis as unknown as BenchWindow;
    w.__dfsBench = { armed: false, want: true, t0: 0, t1: 0 };
    w.document.addEventListener(
      'keydown',
      (e) => {
        const b = w.__dfsBench;
        if (!b.armed || !e.ctrlKey || e.key.toLowerCase() !== 's') return;
        b.armed = false;
        b.t0 = w.performance.now();
        const seen = (): boolean => !!w.document.querySelector('.monaco-editor .squiggly-error') === b.want;
        const observer = new w.MutationObserver(() => {
          if (!seen()) return;
          observer.disconnect();
          w.requestAnimationFrame(() => (b.t1 = w.performance.now()));
        });
        observer.observe(w.document.body, {
          subtree: true,
          childList: true,
          attributes: true,
          attributeFilter: ['class'],
        });
      },
      true,
    );
  });
}

/** Ctrl+S, and the ms until the squiggle is shown (`want`) or gone (`!want`). */
async function timedSave(page: Page, want: boolean): Promise<number> {
  await page.evaluate((want) => {
    Object.assign((globalThis as unknown as BenchWindow).__dfsBench, { armed: true, want, t1: 0 });
  }, want);
  await page.keyboard.press('Control+S');
  await page
    .waitForFunction(() => (globalThis as unknown as BenchWindow).__dfsBench.t1 > 0, null, {
      timeout: 120_000,
      polling: 50,
    })
    .catch(async (err: unknown) => {
      const shot = join(repoRoot(), 'out', 'test-results', 'bench-editor-failure.png');
      await screenshot(page, shot).catch(() => undefined);
      const state = await page.evaluate(() => JSON.stringify((globalThis as unknown as BenchWindow).__dfsBench));
      throw new Error(`no ${want ? 'squiggle' : 'clean editor'} after the save (timer ${state}; see ${shot})`, {
        cause: err,
      });
    });
  return page.evaluate(() => {
    const b = (globalThis as unknown as BenchWindow).__dfsBench;
    return b.t1 - b.t0;
  });
}

/** Quick Open a file, then put the cursor at `line`:`column` (1-based, as drawn). */
async function openAt(page: Page, name: string, line: number, column: number): Promise<void> {
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await page.keyboard.press('Control+P');
  await input.waitFor({ state: 'visible', timeout: 30_000 });
  await input.fill(name);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().waitFor({ timeout: 30_000 });
  await input.press('Enter');
  await page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: 30_000 });
  await input.waitFor({ state: 'hidden', timeout: 30_000 });
  await page.keyboard.press('Control+G');
  await input.waitFor({ state: 'visible', timeout: 30_000 });
  await input.fill(`:${line}:${column}`); // Go to Line in Quick Open
  await input.press('Enter');
  await input.waitFor({ state: 'hidden', timeout: 30_000 });
  // The editor has the cursor there (the status bar says so) before any key is typed.
  await page
    .locator('.statusbar-item', { hasText: `Ln ${line}, Col ${column}` })
    .first()
    .waitFor({ timeout: 30_000 });
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 500));

/** The extension's log file in code-server's user data dir (its LogOutputChannel "DFS eBPF"). */
function extensionLogFile(userDataDir: string): string | undefined {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('DFS eBPF.log') ? [join(dir, e.name)] : [],
    );
  return existsSync(join(userDataDir, 'logs')) ? walk(join(userDataDir, 'logs'))[0] : undefined;
}

/** The service's own figures ("verified … in N ms": save event → diagnostics published), in log order. */
function handlerTimes(logFile: string | undefined): number[] {
  if (!logFile) return [];
  return [...readFileSync(logFile, 'utf8').matchAll(/ verified \S+ on \S+ in (\d+) ms/g)].map((m) => Number(m[1]));
}

/** Waits (≤ 5 s) for the log to hold more than `count` figures and returns the newest. */
async function nextHandlerTime(logFile: string | undefined, count: number): Promise<number | undefined> {
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await settle()) {
    const all = handlerTimes(logFile);
    if (all.length > count) return all.at(-1);
  }
  return undefined;
}

async function main(): Promise<void> {
  const rounds = Number(arg('rounds') ?? 10);
  const json = process.argv.includes('--json');
  const vsix = join(repoRoot(), 'dist', 'dfs-ebpf.vsix');
  if (!existsSync(vsix)) throw new Error(`${vsix} is missing: npm run package (then npm run build)`);
  const original = readFileSync(join(repoRoot(), 'bpf', SOURCE), 'utf8').split('\n');
  const bugLine = original.findIndex((l) => CHECKED.test(l)) + 1;
  if (bugLine === 0) throw new Error(`no "return p && (p->flags" line in bpf/${SOURCE} to break`);

  const scratch = mkdtempSync(join(tmpdir(), 'dfs-bench-editor-'));
  const ws = join(scratch, 'ws');
  const wsFile = writeSource(join(ws, 'bpf'), false, bugLine);
  const bad = writeSource(join(scratch, 'by-hand', 'bad'), true, bugLine);
  const good = writeSource(join(scratch, 'by-hand', 'good'), false, bugLine);
  const coreRoot = join(scratch, 'core');
  let server: CodeServerHandle | undefined;
  let browser: BrowserSession | undefined;
  let session: NodeSession | undefined;
  try {
    say(`bringing up ${NAME}`);
    await upNode(NAME);
    server = await startCodeServer({ installExtensions: [vsix], settings: { 'dfsEbpf.node': `local:${NAME}` } });
    browser = await launchBrowser();
    const { page } = browser;
    await openWorkbench(page, server.url, ws);
    await waitForStatusBarText(page, 'dfs-ebpf.dfs-ebpf.dfsEbpf.bypass', /bypass off/, 120_000); // connected
    // Core's own session, without the version check: the extension has deployed its agent.
    session = await NodeSession.open(resolveTarget(`local:${NAME}`), { log: nullLogger, clientName: 'bench-editor' });
    const vmlinuxDir = (await nodeKernelHeaders(session)).dir;
    const kernel = session.info.kernel.release;
    const check = await verifySourceOnNode(session, bad, { root: coreRoot });
    if (check.outcome?.ok !== false)
      throw new Error('the broken bypass was not rejected: the edit no longer breaks it');

    // Go to Line counts columns as drawn: a leading tab is 4 (the editor's tab size here).
    const before = (original[bugLine - 1] ?? '').slice(0, (original[bugLine - 1] ?? '').indexOf(CHECK));
    await openAt(page, SOURCE, bugLine, before.replace(/\t/g, '    ').length + 1);
    await installTimer(page);
    const logFile = extensionLogFile(server.userDataDir);
    if (!logFile) say('the extension log was not found: no save-handler figures');
    const times = {
      shown: { editor: [] as number[], handler: [] as number[], core: [] as number[], byHand: [] as number[] },
    };
    const cleared = { editor: [] as number[], handler: [] as number[], core: [] as number[], byHand: [] as number[] };
    const byHandDir = join(scratch, 'objects');
    mkdirSync(byHandDir, { recursive: true });
    for (let r = 0; r <= rounds; r++) {
      const record = r > 0; // round 0 warms up every path
      say(record ? `round ${r}/${rounds}` : 'warm-up round');
      for (const phase of ['shown', 'cleared'] as const) {
        const to = phase === 'shown' ? times.shown : cleared;
        const file = phase === 'shown' ? bad : good;
        const arms: (() => Promise<void>)[] = [
          async () => {
            if (phase === 'cleared') {
              await page.keyboard.type(CHECK);
              for (let i = 0; i < CHECK.length; i++) await page.keyboard.press('ArrowLeft'); // back before it
            } else for (let i = 0; i < CHECK.length; i++) await page.keyboard.press('Delete');
            const logged = handlerTimes(logFile).length;
            const ms = await timedSave(page, phase === 'shown');
            const handler = await nextHandlerTime(logFile, logged);
            if (record && handler !== undefined) to.handler.push(handler);
            const saved = !readFileSync(wsFile, 'utf8').includes(`return ${CHECK}(p->flags`);
            if (saved !== (phase === 'shown'))
              throw new Error(`the editor saved the wrong text (round ${r}, ${phase})`);
            if (record) to.editor.push(ms);
          },
          async () => {
            const t0 = performance.now();
            const { outcome } = await verifySourceOnNode(session!, file, { root: coreRoot });
            if (outcome?.ok !== (phase === 'cleared')) throw new Error(`core: unexpected verdict (${phase})`);
            if (record) to.core.push(performance.now() - t0);
          },
          async () => {
            const ms = await byHandMs(file, vmlinuxDir, byHandDir);
            if (record) to.byHand.push(ms);
          },
        ];
        for (let k = 0; k < arms.length; k++) {
          await arms[(k + r) % arms.length]!();
          await settle();
        }
      }
    }
    const figures = (t: { editor: number[]; handler: number[]; core: number[]; byHand: number[] }): Figures => {
      const editor = loopTimes(t.editor);
      const core = loopTimes(t.core);
      const byHand = loopTimes(t.byHand);
      return {
        editor,
        save_handler: loopTimes(t.handler),
        core,
        by_hand: byHand,
        editor_over_by_hand: round3(editor.median_ms / byHand.median_ms),
        core_over_by_hand: round3(core.median_ms / byHand.median_ms),
      };
    };
    const report = {
      source: `bpf/${SOURCE}`,
      node: NAME,
      kernel,
      rounds,
      rejected_save_to_squiggle_shown: figures(times.shown),
      accepted_save_to_squiggle_cleared: figures(cleared),
    };
    if (json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else {
      const line = (what: string, f: Figures): string[] => [
        `  ${what}`,
        `    editor (code-server, keypress → frame)  median ${f.editor.median_ms.toFixed(0)} ms, p90 ${f.editor.p90_ms.toFixed(0)} ms`,
        `      of which save event → published         median ${f.save_handler.median_ms.toFixed(0)} ms, p90 ${f.save_handler.p90_ms.toFixed(0)} ms`,
        `    core save path (bench verify)            median ${f.core.median_ms.toFixed(0)} ms, p90 ${f.core.p90_ms.toFixed(0)} ms`,
        `    by hand (clang + bpftool prog loadall)   median ${f.by_hand.median_ms.toFixed(0)} ms, p90 ${f.by_hand.p90_ms.toFixed(0)} ms`,
        `    editor / by hand ${f.editor_over_by_hand.toFixed(2)}x, core / by hand ${f.core_over_by_hand.toFixed(2)}x`,
      ];
      process.stdout.write(
        [
          `save → diagnostic for bpf/${SOURCE} on ${NAME} (kernel ${kernel}), ${rounds} interleaved rounds:`,
          ...line('rejected save → squiggle shown', report.rejected_save_to_squiggle_shown),
          ...line('accepted save → squiggle cleared', report.accepted_save_to_squiggle_cleared),
        ].join('\n') + '\n',
      );
    }
  } finally {
    session?.close();
    await browser?.close();
    await server?.stop();
    await nodeDown({ name: NAME }).catch((err: unknown) => say(`node down: ${String(err)}`));
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`[bench-editor] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
