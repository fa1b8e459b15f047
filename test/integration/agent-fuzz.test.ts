// Fuzzing the agent's framing and requests in CI, bounded to about 100 s: random and mutated
// frames and requests (see test/support/agentFuzz.ts) against a real agent process. Every
// input gets its answers or an orderly close; no crash, no hang, no uncoded or Internal
// answer; the serving agent's memory stays bounded. The seed is printed; DFS_FUZZ_SEED=N
// replays a run. The long run outside CI is `node scripts/fuzz-agent.mjs COUNT`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawAgent } from '../support/agentProcess';
import { fuzzSeed, runFuzz } from '../support/agentFuzz';
import { waitFor } from '../support/kernel';

test('fuzzing the agent: answers or orderly closes only, memory bounded', { timeout: 240_000 }, async (t) => {
  const seed = fuzzSeed();
  t.diagnostic(`seed ${seed} (replay with DFS_FUZZ_SEED=${seed})`);
  process.stderr.write(`agent fuzz seed ${seed}\n`);
  const r = await runFuzz({ seed, count: 20_000, budgetMs: 100_000, framingShare: 0.02 });
  t.diagnostic(
    `${r.inputs} inputs (${r.streamInputs} stream, ${r.framingInputs} framing) in ${r.elapsedMs} ms; ` +
      `${r.answers} answers, ${r.orderlyCloses} orderly closes; crashes ${r.crashes}, hangs ${r.hangs}, ` +
      `uncoded ${r.uncoded}, miscounted ${r.miscounted}; RSS ${r.rssStartKb} → ${r.rssMidKb} → ${r.rssEndKb} kB, peak ${r.peakKb} kB`,
  );
  for (const e of r.examples) t.diagnostic(e);
  assert.ok(r.streamInputs > 200, `enough stream inputs ran (${r.streamInputs})`);
  assert.ok(r.framingInputs > 10, `enough framing inputs ran (${r.framingInputs})`);
  assert.equal(r.crashes, 0, 'crashes');
  assert.equal(r.hangs, 0, 'hangs');
  assert.equal(r.uncoded, 0, 'uncoded or Internal answers');
  assert.equal(r.miscounted, 0, 'inputs with a wrong number of answers');
  assert.ok(r.orderlyCloses > 0, 'framing errors closed the connection in order');
  // Bounded: once the heap has grown to fit the largest inputs, no growth beyond GC slack, and
  // no runaway peak (the agent before the size cap reached 362 MB on one 100 MiB body).
  assert.ok(r.rssEndKb < r.rssMidKb + 64 * 1024, `RSS ${r.rssMidKb} kB halfway → ${r.rssEndKb} kB at the end`);
  assert.ok(r.peakKb < 512 * 1024, `peak RSS ${r.peakKb} kB`);
});

test('every agent process the fuzzing started has exited', async () => {
  await waitFor(() => RawAgent.live.size === 0, 5000, 'the agents to exit');
});
