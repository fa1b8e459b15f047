// Screenshots and timings of the map inspector webview (not a test: it prints figures and
// writes pictures, it asserts nothing), in headless Chromium (test/harness/browser.ts flags)
// through the stand-in host of test/harness/mapsPanel.ts, with the synthetic maps of
// test/harness/mapsPanelData.ts:
//   maps-table        a per-CPU struct map, 12 columns, 100,000 entries; a refresh with changed
//                     cells and rates; a row selected (details below)
//   maps-table-light  the same in the light theme, scrolled to the middle and sorted
//   maps-table-narrow the same at 860 px wide (the panel beside an editor)
//   maps-histogram    a histogram map: 4 rows of 32 log2 slots, the first selected
//   maps-ringbuf      a ring buffer's description and positions
//   maps-diff         a snapshot → live diff: added, removed, changed rows
//   maps-editor-error the editor after the host refused an update
// Timings (User Timing entries the panel records): `maps:rows`, a `rows` message of 200 rows →
// the frame that shows it painted (and `maps:rows-work`, its synchronous part); `maps:scroll`, a jump far down the 100,000 rows → the frame
// with the new window painted (the round trip through the harness host included, as through VS
// Code's); and a wheel scroll through the table, its longest frame and the rows in the DOM.
// Usage (after npm run build): node out/test/harness/mapsPanelShots.js [--out DIR] [--rounds N]
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchBrowser } from './browser';
import { openMapsPanel, pushUpdates, startMapsServer, type MapsServer } from './mapsPanel';
import { diffMessages, histogramMessages, ringbufMessages, StructMapHost } from './mapsPanelData';
import { repoRoot } from '../support/repo';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const outDir = arg('out', join(repoRoot(), 'out', 'screenshots'));
const rounds = Number(arg('rounds', '20'));

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (xs: number[]): string =>
  `median ${median(xs).toFixed(1)} ms (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)}, n=${xs.length})`;

async function shot(page: Page, name: string): Promise<void> {
  const path = join(outDir, `${name}.png`);
  await page.screenshot({ path });
  console.log(`screenshot ${path}`);
}

const entries = (page: Page, name: string): Promise<number[]> =>
  page.evaluate((n) => performance.getEntriesByName(n).map((e) => e.duration), name);

async function waitForEntry(page: Page, name: string, before: number): Promise<number> {
  await page.waitForFunction(
    ([n, b]) => performance.getEntriesByName(n as string).length > (b as number),
    [name, before],
  );
  return (await entries(page, name)).at(-1)!;
}

/** A fresh page with its own binding (one per scenario). */
async function scenario(
  session: Awaited<ReturnType<typeof launchBrowser>>,
  server: MapsServer,
  host: Parameters<typeof openMapsPanel>[2],
  opts: { theme?: 'dark' | 'light'; width?: number; height?: number } = {},
): Promise<Page> {
  const page = await session.context.newPage();
  await page.setViewportSize({ width: opts.width ?? 1400, height: opts.height ?? 900 });
  await openMapsPanel(page, server, host, opts.theme ?? 'dark');
  return page;
}

async function structTable(page: Page, map: StructMapHost): Promise<void> {
  await page.locator('.mrow:not(.loading)').first().waitFor();
  await page.locator('.mrow[data-index="2"]').click();
  // A refresh: the host sends the last window again, counters moved.
  map.tick++;
  await pushUpdates(page, [map.rows(map.last)]);
  await page.waitForTimeout(200);
}

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const server = await startMapsServer();
  const session = await launchBrowser({ viewport: { width: 1400, height: 900 } });
  try {
    // 1. The struct map, 100,000 entries.
    const map = new StructMapHost(100_000);
    const page = await scenario(session, server, map.host);
    await structTable(page, map);
    await shot(page, 'maps-table');

    // Keyboard: two rows down from the selection.
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    const selected = await page.locator('.mrow.selected').getAttribute('data-index');
    console.log(`keyboard: ArrowDown ×2 from row 2 selects row ${selected}`);

    // Timing: a rows message of 200 rows → painted; a refresh (the same window, some counters
    // moved) and a new window (every visible row different, as after a new filter).
    await page.evaluate(() => {
      (
        globalThis as unknown as { document: { querySelector(s: string): { scrollTop: number } } }
      ).document.querySelector('.mtable').scrollTop = 0;
    });
    const refreshTimes: number[] = [];
    const newTimes: number[] = [];
    for (let r = 0; r < rounds; r++) {
      map.tick++;
      let before = (await entries(page, 'maps:rows')).length;
      await pushUpdates(page, [map.rows({ ...map.last, offset: 0, limit: 200 })]);
      refreshTimes.push(await waitForEntry(page, 'maps:rows', before));
      before = (await entries(page, 'maps:rows')).length;
      const other = map.rows({ ...map.last, offset: 1000 + 200 * r, limit: 200 });
      await pushUpdates(page, [{ ...other, query: { ...map.last, offset: 0, limit: 200 } } as typeof other]);
      newTimes.push(await waitForEntry(page, 'maps:rows', before));
    }
    const work = (await entries(page, 'maps:rows-work')).slice(-2 * rounds);
    // Timing: jumps far down the table → the new window painted.
    const rowH = await page.evaluate(
      () =>
        (
          globalThis as unknown as { document: { querySelector(s: string): { offsetHeight: number } } }
        ).document.querySelector('.mrow').offsetHeight,
    );
    const scrollTimes: number[] = [];
    const phases = { ask: [] as number[], trip: [] as number[], draw: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      const target = (Math.imul(r + 1, 2654435761) >>> 0) % 99_000;
      const before = (await entries(page, 'maps:scroll')).length;
      await page.evaluate((top) => {
        const d = (globalThis as unknown as { document: { querySelector(s: string): { scrollTop: number } } }).document;
        d.querySelector('.mtable').scrollTop = top;
      }, target * rowH);
      scrollTimes.push(await waitForEntry(page, 'maps:scroll', before));
      // Its phases: scroll → `query` posted; → `rows` received (the harness host's round trip);
      // → painted.
      const p = await page.evaluate(() => {
        const w = globalThis as unknown as { __posted: { type: string }[]; __postedAt: number[] };
        const q = w.__posted.map((m) => m.type).lastIndexOf('query');
        const scroll = performance.getEntriesByName('maps:scroll').at(-1)!;
        const rows = performance.getEntriesByName('maps:rows').at(-1)!;
        return { scroll: scroll.startTime, asked: w.__postedAt[q]!, received: rows.startTime, painted: rows.duration };
      });
      phases.ask.push(p.asked - p.scroll);
      phases.trip.push(p.received - p.asked);
      phases.draw.push(p.painted);
    }
    // A wheel scroll through the table: the longest frame, and how many rows the DOM holds.
    await page.evaluate(() => {
      const w = globalThis as unknown as {
        __frames: number[];
        __stop: boolean;
        requestAnimationFrame(f: () => void): number;
      };
      w.__frames = [];
      w.__stop = false;
      let last = performance.now();
      const loop = (): void => {
        const now = performance.now();
        w.__frames.push(now - last);
        last = now;
        if (!w.__stop) w.requestAnimationFrame(loop);
      };
      w.requestAnimationFrame(loop);
    });
    const box = (await page.locator('.mtable:not([hidden])').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    let maxRows = 0;
    for (let k = 0; k < 120; k++) {
      await page.mouse.wheel(0, 1500);
      if (k % 10 === 0) maxRows = Math.max(maxRows, await page.locator('.mrow').count());
    }
    await page.waitForTimeout(300);
    const frames = await page.evaluate(() => {
      const w = globalThis as unknown as { __frames: number[]; __stop: boolean };
      w.__stop = true;
      return w.__frames.slice(1);
    });
    maxRows = Math.max(maxRows, await page.locator('.mrow').count());

    // Sorting and filtering are the host's: show what the panel asked for.
    await page.locator('.hcell[data-column="7"] button').click();
    await page.locator('.mrow:not(.loading)').first().waitFor();
    await page.fill('#filter', '6379');
    await page.waitForTimeout(600);
    const asked = await page.evaluate(() =>
      (globalThis as unknown as { __posted: { type: string }[] }).__posted.filter((m) => m.type === 'query').slice(-2),
    );
    console.log(`last queries: ${JSON.stringify(asked)}`);
    await page.close();

    // 1b. Light theme, sorted by ops, scrolled to the middle; 1c. narrow.
    const light = await scenario(session, server, map.host, { theme: 'light' });
    map.tick = 1;
    await light.locator('.hcell[data-column="7"] button').click();
    await light.evaluate((top) => {
      const d = (globalThis as unknown as { document: { querySelector(s: string): { scrollTop: number } } }).document;
      d.querySelector('.mtable').scrollTop = top;
    }, 50_000 * rowH);
    await light.waitForTimeout(300);
    await light.locator('.mrow:not(.loading)').nth(4).click();
    map.tick++;
    await pushUpdates(light, [map.rows(map.last)]);
    await light.waitForTimeout(200);
    await shot(light, 'maps-table-light');
    await light.close();
    const narrowMap = new StructMapHost(100_000);
    const narrow = await scenario(session, server, narrowMap.host, { width: 860, height: 760 });
    await structTable(narrow, narrowMap);
    await shot(narrow, 'maps-table-narrow');
    await narrow.close();

    // 2. Histograms.
    const hist = await scenario(session, server, (m) => (m.type === 'ready' ? histogramMessages() : []));
    await hist.locator('.mrow[data-index="0"]').click();
    await hist.waitForTimeout(100);
    await shot(hist, 'maps-histogram');
    await hist.close();

    // 3. A ring buffer.
    const ring = await scenario(session, server, (m) => (m.type === 'ready' ? ringbufMessages() : []));
    await ring.locator('.fill-bar').waitFor();
    await shot(ring, 'maps-ringbuf');
    await ring.close();

    // 4. A diff.
    const diffMap = new StructMapHost(100_000);
    const diff = await scenario(session, server, diffMap.host);
    await diff.locator('.mrow:not(.loading)').first().waitFor();
    await pushUpdates(diff, diffMessages());
    await diff.locator('.diff-bar').waitFor();
    await diff.locator('.mtable:not([hidden]) .mrow[data-index="9"]').click();
    await shot(diff, 'maps-diff');
    await diff.close();

    // 5. The editor: an update the host refuses.
    const editMap = new StructMapHost(100_000);
    editMap.writeResult = {
      ok: false,
      message: 'value[3].lat_ns.max: 18446744073709551616 does not fit in __u64 (0 to 18446744073709551615)',
    };
    const edit = await scenario(session, server, editMap.host);
    await edit.locator('.mrow[data-index="1"]').click();
    await edit.getByRole('button', { name: 'Edit selected' }).click();
    const value = await edit.inputValue('#edit-value');
    await edit.fill('#edit-value', value.replace(/("max": )\d+/, '$118446744073709551616'));
    await edit.getByRole('button', { name: 'Update' }).click();
    await edit.locator('.outcome.error').waitFor();
    await shot(edit, 'maps-editor-error');
    await edit.close();

    console.log(`rows message (200 rows), a refresh of the window → painted: ${fmt(refreshTimes)}`);
    console.log(`rows message (200 rows), a new window → painted: ${fmt(newTimes)}`);
    console.log(`  of which the message's handling (decoding, cells, layout read): ${fmt(work)}`);
    console.log(`scroll jump → next window painted (host round trip included): ${fmt(scrollTimes)}`);
    console.log(`  scroll → query posted: ${fmt(phases.ask)}`);
    console.log(
      `  query → rows received (the harness host via Playwright; VS Code's IPC differs): ${fmt(phases.trip)}`,
    );
    console.log(`  rows received → painted: ${fmt(phases.draw)}`);
    console.log(
      `wheel scroll, 120 steps of 1500 px: longest frame ${Math.max(...frames).toFixed(1)} ms, ` +
        `frames over 50 ms: ${frames.filter((f) => f > 50).length} of ${frames.length}; ` +
        `rows in the DOM at most: ${maxRows}`,
    );
  } finally {
    await session.close();
    await server.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
