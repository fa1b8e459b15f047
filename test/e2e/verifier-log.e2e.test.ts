// UI end to end for the verifier log explorer: the packaged .vsix in real VS Code (code-server),
// driven in headless Chromium. A synthetic verifier log of 1,000,000 lines (instructions with
// state, source annotations, branch lines, a rejection at the end) and its .bpf.c source are
// opened through the palette ("Open verifier log…" then the file dialog). It proves: the
// failing instruction is highlighted and in view on load; clicking another instruction moves
// the source pane and opens the editor at its line; search finds every match ("k of N") without
// freezing the UI; End reaches the millionth line. It prints time-to-first-render, key and
// scroll latencies and the longest frame during a search, measured inside the webview (figures,
// not assertions). No test node needed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Frame, Locator, Page } from 'playwright-core';
import { launchBrowser, openWorkbench, runCommand, screenshot, type BrowserSession } from '../harness/browser';
import { startCodeServer, type CodeServerHandle } from '../harness/codeServer';
import { E2E_ARTIFACTS, packagedExtension } from '../support/e2e';

const LOG_LINES = 1_000_000;
const SEARCH_TERM = 'bpf_ktime_get_ns';
const artifacts = E2E_ARTIFACTS;
const workspace = mkdtempSync(join(tmpdir(), 'dfs-e2e-vlog-'));
const logPath = join(workspace, 'explore.verifier.log');
let server: CodeServerHandle | undefined;
let browser: BrowserSession | undefined;

const SOURCE = `// SPDX-License-Identifier: GPL-2.0
/* A synthetic program for the verifier log explorer's e2e test. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct val {
	__u64 slots[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct val);
} counts SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_read")
int explore(struct trace_event_raw_sys_enter *ctx)
{
	__u64 sum = 0, t;
	__u32 key = 0, i;
	struct val *v;

	for (i = 0; i < 8192; i++) {
		t = bpf_ktime_get_ns();
		sum += ctx->args[i & 5] + t;
		if (sum > 0xffff)
			break;
	}
	v = bpf_map_lookup_elem(&counts, &key);
	key = sum & 15;
	v->slots[key] += 1; /* BUG: v may be NULL */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
`;
const sourceLines = SOURCE.split('\n');
/** 1-based line of the source line that contains `text`. */
const lineOf = (text: string): number => {
  const i = sourceLines.findIndex((l) => l.includes(text));
  assert.ok(i >= 0, text);
  return i + 1;
};
const at = (text: string): string => `; ${sourceLines[lineOf(text) - 1]?.trim()} @ explore.bpf.c:${lineOf(text)}`;
const pad = (insn: string, state: string): string => `${insn.padEnd(38)}; ${state}`;

/** A level-1 style log of exactly `total` lines: a loop the verifier walks again and again. */
function syntheticLog(total: number): string[] {
  const head = [
    'func#0 @0',
    '0: R1=ctx() R10=fp0',
    at('int explore('),
    pad('0: (bf) r6 = r1', 'R1=ctx() R6=ctx()'),
    at('__u64 sum = 0'),
    pad('1: (b7) r7 = 0', 'R7=0'),
    at('__u32 key = 0'),
    pad('2: (b7) r1 = 0', 'R1=0'),
    pad('3: (63) *(u32 *)(r10 -4) = r1', 'R1=0 R10=fp0 fp-8=0000????'),
    pad('4: (b7) r8 = 0', 'R8=0'),
  ];
  const block = (k: number): string[] => [
    `from 12 to 5: R0=scalar(id=${k}) R6=ctx() R7=scalar(id=${k + 1}) R8=${k % 8192} R10=fp0 fp-8=0000????`,
    at('for (i = 0;'),
    pad('5: (bf) r1 = r6', 'R1=ctx() R6=ctx()'),
    at('t = bpf_ktime_get_ns'),
    pad('6: (85) call bpf_ktime_get_ns#5', `R0=scalar(id=${k + 2})`),
    at('sum += ctx->args'),
    pad('7: (79) r2 = *(u64 *)(r1 +16)', 'R1=ctx() R2=scalar()'),
    pad('8: (0f) r7 += r2', `R2=scalar() R7=scalar(id=${k + 3})`),
    at('if (sum > 0xffff)'),
    pad('9: (25) if r7 > 0xffff goto pc+3', 'R7=scalar(smin=smin32=0,smax=umax=0xffff,var_off=(0x0; 0xffff))'),
    pad('10: (07) r8 += 1', `R8=${(k + 1) % 8192}`),
  ];
  const tail = [
    'from 9 to 13: R6=ctx() R7=scalar(smin=0x10000) R8=scalar() R10=fp0 fp-8=0000????',
    at('v = bpf_map_lookup_elem'),
    pad('13: (bf) r2 = r10', 'R2=fp0 R10=fp0'),
    pad('14: (07) r2 += -4', 'R2=fp-4'),
    pad('15: (18) r1 = 0xffff888100000000', 'R1=map_ptr(map=counts,ks=4,vs=128)'),
    pad('17: (85) call bpf_map_lookup_elem#1', 'R0=map_value_or_null(id=1,map=counts,ks=4,vs=128)'),
    at('key = sum & 15'),
    pad('18: (bf) r1 = r7', 'R1=scalar(id=2) R7=scalar(id=2)'),
    pad('19: (57) r1 &= 15', 'R1=scalar(smin=smin32=0,smax=umax=smax32=umax32=15,var_off=(0x0; 0xf))'),
    at('v->slots[key] += 1'),
    pad('20: (67) r1 <<= 3', 'R1=scalar(smin=smin32=0,smax=umax=smax32=umax32=120,var_off=(0x0; 0x78))'),
    '21: (0f) r0 += r1',
    'R0 pointer arithmetic on map_value_or_null prohibited, null-check it first',
    'processed 1000001 insns (limit 1000000) max_states_per_insn 4 total_states 24576 peak_states 4096 mark_read 9',
  ];
  const lines = [...head];
  for (let k = 0; lines.length < total - tail.length; k++) {
    for (const l of block(k)) if (lines.length < total - tail.length) lines.push(l);
  }
  return [...lines, ...tail];
}

const logLines = syntheticLog(LOG_LINES);
const failingIndex = logLines.indexOf('21: (0f) r0 += r1');
const searchMatches = logLines.filter((l) => l.toLowerCase().includes(SEARCH_TERM)).length;

before(async () => {
  const vsix = packagedExtension();
  assert.equal(logLines.length, LOG_LINES);
  writeFileSync(join(workspace, 'explore.bpf.c'), SOURCE);
  writeFileSync(logPath, logLines.join('\n') + '\n');
  server = await startCodeServer({ installExtensions: [vsix], settings: { 'dfsEbpf.autoConnect': false } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(workspace, { recursive: true, force: true });
});

/**
 * Answers VS Code's file dialog, which in a browser is the "simple" one: a quick input holding
 * a folder path. It fills its own initial value in after it appears, so we wait for that before
 * typing `path`, and check the typed value survived before accepting. Returns when accepted.
 */
async function pickFile(page: Page, path: string): Promise<number> {
  const widget = page.locator('.quick-input-widget');
  const input = widget.locator('.quick-input-box input');
  await input.waitFor({ state: 'visible', timeout: 30_000 });
  const deadline = Date.now() + 30_000;
  while ((await input.inputValue()) === '' && Date.now() < deadline) await page.waitForTimeout(100);
  for (;;) {
    await input.fill(path);
    await page.waitForTimeout(300); // the dialog completes and validates what was typed
    if ((await input.inputValue()) === path) break;
    if (Date.now() > deadline) throw new Error(`the file dialog shows ${await input.inputValue()}, not ${path}`);
  }
  const accepted = Date.now();
  await input.press('Enter');
  await widget.waitFor({ state: 'hidden', timeout: 30_000 });
  return accepted;
}

/** Whether `row` is entirely inside `list`'s box. */
async function inView(row: Locator, list: Locator): Promise<boolean> {
  const [r, l] = await Promise.all([row.boundingBox(), list.boundingBox()]);
  return !!r && !!l && r.y >= l.y - 0.5 && r.y + r.height <= l.y + l.height + 0.5;
}

/** The explorer's document: the webview's inner frame (the only webview open). */
async function explorerFrame(page: Page): Promise<Frame> {
  const outer = await (await page.locator('iframe.webview').first().elementHandle({ timeout: 60_000 }))?.contentFrame();
  const inner = await (await outer?.locator('#active-frame').elementHandle({ timeout: 60_000 }))?.contentFrame();
  assert.ok(inner, 'the verifier log webview frame');
  return inner;
}

/** The few browser APIs the in-webview probes use (this file is type-checked without the DOM). */
interface ProbeElement {
  focus(): void;
  dispatchEvent(e: unknown): boolean;
  querySelector(selector: string): ProbeElement | null;
  getBoundingClientRect(): { top: number; bottom: number };
  value: string;
  readonly textContent: string | null;
  readonly dataset: Record<string, string | undefined>;
  scrollTop: number;
  readonly scrollHeight: number;
  readonly clientHeight: number;
}
interface ProbeWindow {
  document: { getElementById(id: string): ProbeElement | null };
  KeyboardEvent: new (type: string, init: Record<string, unknown>) => unknown;
  requestAnimationFrame(cb: () => void): number;
  setTimeout(cb: () => void, ms: number): number;
  performance: {
    readonly timeOrigin: number;
    now(): number;
    getEntriesByType(type: string): { name: string; duration: number }[];
    getEntriesByName(name: string): { startTime: number }[];
  };
}

/** Runs in the webview: the selected row's index, whether it is entirely in view, and how long
 *  key `key` took to select and render (until the frame after the next paint). */
async function keyLatency(frame: Frame, key: string): Promise<{ ms: number; index: number; inView: boolean }> {
  return frame.evaluate(async (k) => {
    const w = globalThis as unknown as ProbeWindow;
    const list = w.document.getElementById('log-list');
    if (!list) throw new Error('no #log-list');
    list.focus();
    const t0 = w.performance.now();
    list.dispatchEvent(new w.KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true }));
    await new Promise<void>((r) => w.requestAnimationFrame(() => w.setTimeout(r, 0)));
    const ms = w.performance.now() - t0;
    const row = list.querySelector('.vrow.selected');
    const a = row?.getBoundingClientRect();
    const b = list.getBoundingClientRect();
    const inView = !!a && a.top >= b.top - 0.5 && a.bottom <= b.bottom + 0.5;
    return { ms, index: Number(row?.dataset.index ?? -1), inView };
  }, key);
}

/** Runs in the webview: scrolls the log through `steps` positions, one per frame; mean ms/frame. */
async function scrollLatency(frame: Frame, steps: number): Promise<number> {
  return frame.evaluate(async (n) => {
    const w = globalThis as unknown as ProbeWindow;
    const list = w.document.getElementById('log-list');
    if (!list) throw new Error('no #log-list');
    const t0 = w.performance.now();
    for (let i = 0; i < n; i++) {
      list.scrollTop = ((i * 7919) % n) * ((list.scrollHeight - list.clientHeight) / n);
      await new Promise<void>((r) => w.requestAnimationFrame(r));
    }
    return (w.performance.now() - t0) / n;
  }, steps);
}

/** Runs in the webview: searches `term` (Enter in the search box) and watches frames until the
 *  count is final ("k of n", no "+"); how long that took and the longest frame meanwhile. */
async function longestFrameWhileSearching(
  frame: Frame,
  term: string,
): Promise<{ ms: number; longest: number; count: string }> {
  return frame.evaluate(async (q) => {
    const w = globalThis as unknown as ProbeWindow;
    const box = w.document.getElementById('search');
    const count = w.document.getElementById('search-count');
    if (!box || !count) throw new Error('no #search');
    const t0 = w.performance.now();
    box.value = q;
    box.dispatchEvent(new w.KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));
    let last = t0;
    let longest = 0;
    while (w.performance.now() - t0 < 30_000) {
      await new Promise<void>((r) => w.requestAnimationFrame(() => r()));
      const now = w.performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      if (/^\d+ of \d+$/.test(count.textContent ?? '')) break;
    }
    return { ms: w.performance.now() - t0, longest, count: count.textContent ?? '' };
  }, term);
}

test(
  'verifier log explorer: a 1,000,000-line log, failing insn, source, search, scroll',
  { timeout: 300_000 },
  async () => {
    assert.ok(server && browser);
    const { page } = browser;
    await openWorkbench(page, server.url, workspace);
    try {
      await runCommand(page, 'Open verifier log…', { timeoutMs: 60_000 });
      // No URI argument from the palette: the command asks with the (simple, in a browser) file dialog.
      const opened = await pickFile(page, logPath);

      const panel = page.frameLocator('iframe.webview').frameLocator('#active-frame');
      const failing = panel.locator('#log-list .vrow.failing');
      await failing.waitFor({ state: 'visible', timeout: 120_000 });
      const wallMs = Date.now() - opened;
      const frame = await explorerFrame(page);

      // The failing instruction is highlighted, selected and inside the list's viewport.
      assert.equal(await failing.getAttribute('data-index'), String(failingIndex));
      assert.match(await failing.innerText(), /^\d+ 21: \(0f\) r0 \+= r1$/);
      assert.match((await failing.getAttribute('class')) ?? '', /\bselected\b/);
      assert.ok(await inView(failing, panel.locator('#log-list')), 'failing row in view');
      assert.match(await panel.locator('#error-message').innerText(), /null-check it first/);
      const bug = lineOf('v->slots[key] += 1');
      await panel.locator('#source-list .vrow.selected .ln', { hasText: new RegExp(`^${bug}$`) }).waitFor();
      assert.match(await panel.locator('#state').innerText(), /R1\s+scalar\(smin=smin32=0,smax=umax=smax32=umax32=120/);
      const timings = await frame.evaluate(() => {
        const perf = (globalThis as unknown as ProbeWindow).performance;
        const measures = Object.fromEntries(
          perf.getEntriesByType('measure').map((e) => [e.name, Math.round(e.duration)] as const),
        );
        // When the `load` message arrived, on the wall clock this process shares.
        const received = perf.timeOrigin + (perf.getEntriesByName('verifierLog:load-received')[0]?.startTime ?? NaN);
        return { measures, received: Math.round(received) };
      });
      await screenshot(page, join(artifacts, 'verifier-log-loaded.png'));

      // Clicking another instruction: state and source panes follow, the editor opens the line.
      const keyLine = lineOf('key = sum & 15');
      await panel.locator('#log-list .vrow.k-insn', { hasText: /^\d+ 18: \(bf\) r1 = r7 / }).click();
      await panel.locator('#source-list .vrow.selected .ln', { hasText: new RegExp(`^${keyLine}$`) }).waitFor();
      assert.match(await panel.locator('#source-list .vrow.selected').innerText(), /key = sum & 15;/);
      assert.match(await panel.locator('#state').innerText(), /R7\s+scalar\(id=2\)/);
      await page.locator('.tabs-container .tab.active', { hasText: 'explore.bpf.c' }).waitFor({ timeout: 30_000 });
      // The panel stays in view beside the editor.
      await page.locator('.tabs-container .tab.active', { hasText: 'Verifier log: explore' }).waitFor();
      await page.locator('.statusbar-item', { hasText: `Ln ${keyLine}, Col 1` }).waitFor({ timeout: 30_000 });
      // The editor took half the width and the panel's layout changed: both selections stay in view.
      await page.waitForTimeout(500);
      assert.ok(await inView(panel.locator('#log-list .vrow.selected'), panel.locator('#log-list')), 'clicked row');
      assert.ok(await inView(panel.locator('#source-list .vrow.selected'), panel.locator('#source-list')), 'line');
      await screenshot(page, join(artifacts, 'verifier-log-selected.png'));

      // Search: every match over a million lines, counted while the UI stays responsive.
      const search = panel.locator('#search');
      const count = panel.locator('#search-count');
      await search.click();
      await search.fill(SEARCH_TERM);
      const searched = Date.now();
      await search.press('Enter');
      await count.filter({ hasText: new RegExp(`^1 of ${searchMatches}$`) }).waitFor({ timeout: 60_000 });
      const searchMs = Date.now() - searched;
      await search.press('Enter');
      await count.filter({ hasText: new RegExp(`^2 of ${searchMatches}$`) }).waitFor();
      await search.press('Shift+Enter');
      await count.filter({ hasText: new RegExp(`^1 of ${searchMatches}$`) }).waitFor();
      assert.match(await panel.locator('#log-list .vrow.selected.current-match').innerText(), /bpf_ktime_get_ns/);
      await screenshot(page, join(artifacts, 'verifier-log-search.png'));

      // Keyboard: End reaches the millionth line, Home the first; random scrolling stays smooth.
      const end = await keyLatency(frame, 'End');
      assert.deepEqual([end.index, end.inView], [LOG_LINES - 1, true]);
      await panel.locator('#log-list .vrow.selected', { hasText: 'processed 1000001 insns' }).waitFor();
      await screenshot(page, join(artifacts, 'verifier-log-end.png'));
      const home = await keyLatency(frame, 'Home');
      assert.deepEqual([home.index, home.inView], [0, true]);
      const perFrame = await scrollLatency(frame, 120);
      const busiest = await longestFrameWhileSearching(frame, 'r7=scalar');
      assert.match(busiest.count, /^1 of \d+$/);

      console.log(
        `verifier log explorer, ${LOG_LINES.toLocaleString('en-US')} lines: ` +
          `command → failing row visible ${wallMs} ms (log read, parsed, sent, received after ${timings.received - opened} ms); ` +
          `in the webview: first render ${timings.measures['verifierLog:first-render']} ms ` +
          `(gunzip + split ${timings.measures['verifierLog:decode']} ms); ` +
          `search "${SEARCH_TERM}" → "1 of ${searchMatches}" in ${searchMs} ms; ` +
          `search "r7=scalar" → ${busiest.count} in ${busiest.ms.toFixed(0)} ms, longest frame meanwhile ${busiest.longest.toFixed(1)} ms; ` +
          `End ${end.ms.toFixed(1)} ms, Home ${home.ms.toFixed(1)} ms; random scroll ${perFrame.toFixed(1)} ms/frame`,
      );
    } catch (err) {
      await screenshot(page, join(artifacts, 'verifier-log-failure.png')).catch(() => undefined);
      throw err;
    }
  },
);
