// Benchmark (not a test: it prints figures, asserts no times): the profile viewer against
// speedscope 1.25 on the same synthetic latency-weighted profiles (test/support/
// syntheticProfile.ts: I/O-path-shaped stacks of depth 8–40) with 10,000 and 100,000 unique
// stacks, in ONE headless Chromium (test/harness/browser.ts flags), interleaved A/B with the
// order alternating every round, each load in a fresh page:
//   ours        the `load` message received → the frame after the first draw (User Timing
//               `profile:load`, requestAnimationFrame after the last draw), through the
//               stand-in host of test/harness/profileViewer.ts; also its phases, the time
//               from window.postMessage (structured clone included), and the full tree that
//               the viewer builds after that paint (`profile:tree-full`; the first picture's
//               tree leaves out what is under half a pixel)
//   speedscope  its release app from node_modules (#view=left-heavy), the exported speedscope
//               JSON dropped as an in-memory File (as in shared/reference/flame-render-anchor.md):
//               drop dispatched → the animation frame after its last WebGL draw (all draw calls
//               hooked; done when no draw came for 1 s). Every stack goes into ONE sampled
//               profile here (kinds merged), so speedscope draws all the stacks we draw.
//   zoom        ours: click on a frame → the frame after its draw (`profile:zoom`, which
//               includes the wait for that frame), 3 clicks per load; and the handler's own
//               work (`profile:zoom-work`)
// Then screenshots of the viewer (flame, hover tooltip, search, sandwich, diff, histograms, and
// the flame in the light theme) into out/test-results/flame/.
// Usage (after npm run build): node out/test/bench/flame.bench.js [--rounds N] [--sizes 10000,100000] [--no-speedscope] [--shots-only]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { Profile, ProfilePanelUpdate } from '../../protocol/src';
import { panelProfile } from '../../core/src/profile/files';
import { toSpeedscope } from '../../core/src/profile/speedscope';
import { launchBrowser } from '../harness/browser';
import {
  encodeHostMessage,
  loadInViewer,
  openViewer,
  startViewerServer,
  type ViewerServer,
} from '../harness/profileViewer';
import { repoRoot } from '../support/repo';
import { syntheticProfile } from '../support/syntheticProfile';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const rounds = Number(arg('rounds', '5'));
const sizes = arg('sizes', '10000,100000').split(',').map(Number);
const withSpeedscope = !process.argv.includes('--no-speedscope');
const shotsOnly = process.argv.includes('--shots-only');

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (xs: number[]): string =>
  xs.length ? `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})` : '–';

const ROW = 18;
/** The zoom handler's own work per click (profile:zoom-work), over the whole run. */
const zoomWork: number[] = [];

async function zoomOnce(page: Page, fx: number, row: number): Promise<number> {
  const canvas = page.locator('#pane-flame canvas.flame-canvas');
  const box = (await canvas.boundingBox())!;
  const before = await page.evaluate(() => performance.getEntriesByName('profile:zoom').length);
  await page.mouse.click(box.x + box.width * fx, box.y + row * ROW + ROW / 2);
  await page.waitForFunction((n) => performance.getEntriesByName('profile:zoom').length > n, before);
  const d = await page.evaluate(() => [
    performance.getEntriesByName('profile:zoom').at(-1)!.duration,
    performance.getEntriesByName('profile:zoom-work').at(-1)!.duration,
  ]);
  await page.keyboard.press('Escape');
  zoomWork.push(d[1]!);
  return d[0]!;
}

async function speedscopeLoad(page: Page, server: ViewerServer, dataUrl: string): Promise<number> {
  await page.goto(`${server.url}/speedscope/index.html#view=left-heavy`);
  await page.waitForLoadState('load');
  await page.waitForTimeout(300);
  return page.evaluate(async (url) => {
    const text = await (await fetch(url)).text();
    const g = globalThis as unknown as {
      WebGLRenderingContext?: { prototype: Record<string, unknown> };
      WebGL2RenderingContext?: { prototype: Record<string, unknown> };
      requestAnimationFrame(f: (t: number) => void): number;
      document: { body: { firstElementChild: unknown }; querySelector(s: string): unknown };
      DataTransfer: new () => { items: { add(f: unknown): void } };
      DragEvent: new (t: string, o: object) => unknown;
      File: new (parts: string[], name: string, o: object) => unknown;
    };
    let lastDraw = -1;
    let paintAfter = -1;
    for (const proto of [g.WebGLRenderingContext?.prototype, g.WebGL2RenderingContext?.prototype]) {
      if (!proto) continue;
      for (const m of ['drawElements', 'drawArrays', 'drawArraysInstanced', 'drawElementsInstanced']) {
        const orig = proto[m] as ((...a: unknown[]) => unknown) | undefined;
        if (typeof orig !== 'function') continue;
        proto[m] = function (this: unknown, ...a: unknown[]) {
          lastDraw = performance.now();
          g.requestAnimationFrame((t) => {
            if (t >= lastDraw || performance.now() >= lastDraw) paintAfter = performance.now();
          });
          return orig.apply(this, a);
        };
      }
    }
    const file = new g.File([text], 'profile.speedscope.json', { type: 'application/json' });
    const dt = new g.DataTransfer();
    dt.items.add(file);
    const target = (g.document.querySelector('body > div') ?? g.document.body.firstElementChild) as {
      dispatchEvent(e: unknown): void;
    };
    const t0 = performance.now();
    target.dispatchEvent(new g.DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    const deadline = t0 + 120_000;
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      const now = performance.now();
      if (lastDraw > 0 && paintAfter >= lastDraw && now - lastDraw > 1000) break;
      if (now > deadline) return Number.NaN;
    }
    return paintAfter - t0;
  }, dataUrl);
}

async function bench(server: ViewerServer, page: Page): Promise<void> {
  const results: Record<
    string,
    {
      ours: number[];
      oursPost: number[];
      tree: number[];
      treeFull: number[];
      warmUp: number[];
      draw: number[];
      decode: number[];
      speedscope: number[];
      zoom: number[];
    }
  > = {};
  const urls = new Map<number, { msg: string; ss: string; nodes?: number }>();
  for (const n of sizes) {
    const t0 = Date.now();
    const p = syntheticProfile({ stacks: n, seed: 7 });
    const update: ProfilePanelUpdate = { type: 'load', profile: panelProfile(p, `synthetic ${n}`) };
    const bytes = encodeHostMessage(update);
    const ss = JSON.stringify(
      toSpeedscope(
        p.stacks.map((s) => ({ ...s, kind: 'oncpu' as const })),
        { name: `synthetic ${n}` },
      ),
    );
    urls.set(n, { msg: server.put(`msg-${n}`, bytes), ss: server.put(`ss-${n}.json`, ss) });
    results[n] = {
      ours: [],
      oursPost: [],
      tree: [],
      treeFull: [],
      warmUp: [],
      draw: [],
      decode: [],
      speedscope: [],
      zoom: [],
    };
    console.log(
      `${n} stacks: generated in ${Date.now() - t0} ms; message ${(bytes.byteLength / 1e6).toFixed(1)} MB, speedscope JSON ${(ss.length / 1e6).toFixed(1)} MB`,
    );
  }
  for (let r = 0; r < rounds; r++) {
    for (const n of sizes) {
      const u = urls.get(n)!;
      const res = results[n]!;
      const sides = r % 2 === 0 ? ['ours', 'speedscope'] : ['speedscope', 'ours'];
      for (const side of sides) {
        if (side === 'ours') {
          await openViewer(page, server);
          const t = await loadInViewer(page, u.msg);
          res.ours.push(t.load);
          res.oursPost.push(t.fromPost);
          res.tree.push(t.tree);
          res.treeFull.push(t.treeFull);
          res.warmUp.push(t.warmUp);
          res.draw.push(t.draw);
          res.decode.push(t.decode);
          for (const [fx, row] of [
            [0.15, 5],
            [0.5, 4],
            [0.8, 6],
          ] as const) {
            res.zoom.push(await zoomOnce(page, fx, row));
          }
        } else if (withSpeedscope) {
          res.speedscope.push(await speedscopeLoad(page, server, u.ss));
        }
      }
      console.log(
        `round ${r + 1} ${n}: ours ${res.ours.at(-1)!.toFixed(1)} ms (tree ${res.tree.at(-1)!.toFixed(1)}, full tree ${res.treeFull.at(-1)!.toFixed(1)}, draw ${res.draw.at(-1)!.toFixed(1)}), zoom ${res.zoom
          .slice(-3)
          .map((z) => z.toFixed(1))
          .join('/')} ms` + (withSpeedscope ? `, speedscope ${res.speedscope.at(-1)!.toFixed(0)} ms` : ''),
      );
    }
  }
  console.log('\nmedian (min–max) ms over', rounds, 'rounds');
  const summary: Record<string, unknown> = {};
  for (const n of sizes) {
    const res = results[n]!;
    const ratio = withSpeedscope ? median(res.speedscope) / median(res.ours) : Number.NaN;
    console.log(
      `${String(n).padStart(7)} stacks  ours load ${fmt(res.ours)} [from postMessage ${fmt(res.oursPost)}; decode ${fmt(res.decode)}, first tree ${fmt(res.tree)}, draw ${fmt(res.draw)}; full tree after the paint ${fmt(res.treeFull)}; start-up warm-up before ready ${fmt(res.warmUp)}]` +
        `  zoom ${fmt(res.zoom)}` +
        (withSpeedscope ? `  speedscope ${fmt(res.speedscope)}  speedscope/ours ${ratio.toFixed(1)}x` : ''),
    );
    summary[n] = {
      ours_ms: median(res.ours),
      ours_from_post_ms: median(res.oursPost),
      tree_ms: median(res.tree),
      full_tree_ms: median(res.treeFull),
      draw_ms: median(res.draw),
      zoom_ms: median(res.zoom),
      speedscope_ms: withSpeedscope ? median(res.speedscope) : null,
      ratio: withSpeedscope ? ratio : null,
    };
  }
  console.log(`zoom handler work (hit test, redraw, breadcrumb) over all clicks: ${fmt(zoomWork)} ms`);
  console.log(JSON.stringify({ rounds, results: summary, zoom_work_ms: median(zoomWork) }));
}

async function screenshots(server: ViewerServer, page: Page, dir: string): Promise<void> {
  const before: Profile = syntheticProfile({ stacks: 3000, seed: 21, node: 'dfsnode0' });
  const after: Profile = syntheticProfile({ stacks: 3000, seed: 21, node: 'dfsnode0', variant: 'after' });
  const msg: ProfilePanelUpdate = {
    type: 'load',
    profile: panelProfile(after, 'dfsnode0, bypass on'),
    base: panelProfile(before, 'dfsnode0, bypass off'),
  };
  const url = server.put('shots', encodeHostMessage(msg));
  const shot = async (name: string): Promise<void> => {
    await page.waitForTimeout(150);
    await page.screenshot({ path: join(dir, `${name}.png`) });
    console.log(`screenshot ${join(dir, `${name}.png`)}`);
  };
  await openViewer(page, server);
  await loadInViewer(page, url);
  await shot('flame');
  const canvas = page.locator('#pane-flame canvas.flame-canvas');
  const box = (await canvas.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.3, box.y + 6 * ROW + ROW / 2);
  await shot('hover');
  await page.fill('#search', 'redis');
  await page.waitForTimeout(300);
  await shot('search');
  await page.fill('#search', '');
  await page.mouse.click(box.x + box.width * 0.1, box.y + 5 * ROW + ROW / 2);
  await page.waitForTimeout(100);
  await shot('zoomed');
  await page.keyboard.press('s');
  await page.mouse.move(0, 0);
  await shot('sandwich');
  await page.click('#tab-diff');
  await page.mouse.move(box.x + box.width * 0.5, box.y + 6 * ROW + ROW / 2);
  await shot('diff');
  await page.mouse.move(0, 0);
  await page.click('#tab-histograms');
  await shot('histograms');
  await openViewer(page, server, 'light');
  await loadInViewer(page, url);
  await shot('flame-light');
  await page.click('#tab-histograms');
  await shot('histograms-light');
}

async function main(): Promise<void> {
  const dir = join(repoRoot(), 'out', 'test-results', 'flame');
  mkdirSync(dir, { recursive: true });
  const server = await startViewerServer();
  const session = await launchBrowser({ viewport: { width: 1400, height: 900 } });
  const errors: string[] = [];
  session.page.on('pageerror', (e) => errors.push(String(e)));
  session.page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  try {
    if (!shotsOnly) await bench(server, session.page);
    await screenshots(server, session.page, dir);
  } finally {
    await session.close();
    await server.close();
  }
  if (errors.length) {
    console.log(`page errors:\n${errors.slice(0, 20).join('\n')}`);
    writeFileSync(join(dir, 'page-errors.txt'), errors.join('\n') + '\n');
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
