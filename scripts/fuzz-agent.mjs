#!/usr/bin/env node
// The long fuzz run of the agent's framing and requests, outside CI: `node scripts/fuzz-agent.mjs
// COUNT [SEED]` (as root, after `npm run build`). Same generators and checks as
// test/integration/agent-fuzz.test.ts (test/support/agentFuzz.ts, bundled to out/test/), with no
// time budget. Prints inputs/s, crashes, hangs, uncoded answers and the agent's RSS at the start
// and end of the stream phase; exits 1 when anything went wrong.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';

const require = createRequire(import.meta.url);
const bundle = new URL('../out/test/support/agentFuzz.js', import.meta.url).pathname;
if (!existsSync(bundle)) {
  console.error(`${bundle} is missing: run npm run build first`);
  process.exit(2);
}
const { runFuzz, fuzzSeed } = require(bundle);
const count = Number(process.argv[2] ?? 100_000);
const seed = process.argv[3] ? Number(process.argv[3]) : fuzzSeed();
if (!Number.isInteger(count) || count < 1) {
  console.error('usage: node scripts/fuzz-agent.mjs COUNT [SEED]');
  process.exit(2);
}
console.log(`fuzzing the agent: ${count} inputs, seed ${seed}`);
const r = await runFuzz({
  seed,
  count,
  budgetMs: Number.MAX_SAFE_INTEGER,
  framingShare: 0.03,
  progress: (line) => console.log(`  ${new Date().toISOString()} ${line}`),
});
const rate = r.inputs / (r.elapsedMs / 1000);
console.log(`seed ${r.seed}`);
console.log(
  `inputs ${r.inputs} (${r.streamInputs} stream, ${r.framingInputs} framing) in ${(r.elapsedMs / 1000).toFixed(1)} s: ${rate.toFixed(0)} inputs/s`,
);
console.log(`answers ${r.answers}, orderly closes ${r.orderlyCloses}`);
console.log(`crashes ${r.crashes}, hangs ${r.hangs}, uncoded answers ${r.uncoded}, miscounted ${r.miscounted}`);
console.log(
  `agent RSS in the stream phase: ${r.rssStartKb} kB at start, ${r.rssMidKb} kB halfway, ${r.rssEndKb} kB at the end; peak ${r.peakKb} kB`,
);
for (const e of r.examples) console.log(`  ${e}`);
process.exitCode = r.crashes + r.hangs + r.uncoded + r.miscounted > 0 ? 1 : 0;
