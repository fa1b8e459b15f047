// Fuzzing the agent's framing and requests against a real agent process (see agentProcess.ts:
// root, empty network namespace, so nothing can be attached or installed). Shared by the CI
// test (test/integration/agent-fuzz.test.ts, bounded in time) and the long run
// (scripts/fuzz-agent.mjs COUNT). Reproducible from its seed.
//
// Two phases, because a framing error rightly ends a connection:
// - "stream": frames whose header is right and whose body is anything (valid requests with
//   fields deleted, retyped or oversized, unknown methods, nested junk, random JSON, bad UTF-8,
//   flipped bytes, pipelined bursts, split writes). One agent serves the whole phase, so its
//   memory at start and end means something; every frame that is not a notification must get
//   exactly one answer, and the connection must never close.
// - "framing": broken headers, random bytes, truncated frames. Each input must end in answers
//   or an orderly close (one id-null answer saying the stream cannot be trusted, exit 0); a new
//   agent is started after a close.
// After each batch of stream inputs (4 by default) and after each framing input, a probe
// request (unknown method, cheap) must be answered. Every answer must
// be a well-formed response with a numeric code that is not Internal (5000) nor -32603. A hang
// is a probe that gets no answer and no close, even after filler bytes that complete any frame
// the input declared and the agent's own 30 s idle timeout.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '../../protocol/src';
import { frame, RawAgent, type AgentResponse } from './agentProcess';
import { fixedInputs, framingInput, Rng, streamInput, type Input } from './agentFuzzInputs';
import { repoRoot } from './repo';

export interface FuzzOptions {
  seed: number;
  /** Stop after this many inputs (both phases together), or when the time budget is spent. */
  count: number;
  budgetMs: number;
  /** Share of inputs in the framing phase. */
  framingShare?: number;
  /** Stream inputs sent between two probes (default 4). */
  batch?: number;
  /** Share of the time budget kept for the framing phase (its inputs are slow: each close starts an agent). */
  framingTimeShare?: number;
  agentJs?: string;
  progress?: (line: string) => void;
}

export interface FuzzReport {
  seed: number;
  inputs: number;
  streamInputs: number;
  framingInputs: number;
  answers: number;
  orderlyCloses: number;
  crashes: number;
  hangs: number;
  /** Answers that are not well-formed coded responses, or Internal / -32603. */
  uncoded: number;
  /** Batches of inputs whose number of answers differs from what JSON-RPC asks (one per non-notification frame). */
  miscounted: number;
  /**
   * The stream phase's agent, in kB: RSS after the fixed inputs and 50 more, halfway through
   * the phase and at its end (the heap first grows to fit the largest inputs; growth is judged
   * from halfway on), and the peak over every agent of the run.
   */
  rssStartKb: number;
  rssMidKb: number;
  rssEndKb: number;
  peakKb: number;
  elapsedMs: number;
  examples: string[];
}

// ---------------------------------------------------------------------------------------------
// Running

/** JSON-RPC's own codes the agent uses, and every ErrorCode but Internal. */
const CODES = new Set<number>([
  -32700,
  -32600,
  -32601,
  ...Object.values(ErrorCode).filter((c): c is number => typeof c === 'number' && c !== ErrorCode.Internal),
]);

function uncodedReason(a: AgentResponse): string | null {
  if (a.jsonrpc !== '2.0') return 'jsonrpc is not "2.0"';
  if ((a.result === undefined) === (a.error === undefined)) return 'neither or both of result and error';
  if (a.error === undefined) return null;
  if (typeof a.error.code !== 'number') return 'error without a numeric code';
  if (a.error.code === 5000) return `Internal: ${a.error.message}`;
  if (!CODES.has(a.error.code)) return `unexpected code ${a.error.code}: ${a.error.message}`;
  if (typeof a.error.message !== 'string' || a.error.message === '') return 'error without a message';
  return null;
}

/** A probe unanswered for this long is a hang (generous: a burst of bypass/status on a loaded 2-core machine takes seconds). */
const PROBE_MS = 60_000;
const HANG_MS = 45_000;

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  try {
    return await fuzz(opts);
  } finally {
    // Whatever happened, no agent of this run outlives it.
    for (const a of RawAgent.live) a.kill();
  }
}

async function fuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const r = new Rng(opts.seed);
  const t0 = Date.now();
  const verifyObject = readFileSync(join(repoRoot(), 'dist/agent/bpf/bypass.bpf.o'));
  const report: FuzzReport = {
    seed: opts.seed,
    inputs: 0,
    streamInputs: 0,
    framingInputs: 0,
    answers: 0,
    orderlyCloses: 0,
    crashes: 0,
    hangs: 0,
    uncoded: 0,
    miscounted: 0,
    rssStartKb: 0,
    rssMidKb: 0,
    rssEndKb: 0,
    peakKb: 0,
    elapsedMs: 0,
    examples: [],
  };
  const note = (what: string): void => {
    if (report.examples.length < 20) report.examples.push(what);
  };
  const framingCount = Math.round(opts.count * (opts.framingShare ?? 0.03));
  const streamCount = opts.count - framingCount;
  const streamUntil = t0 + opts.budgetMs * (1 - (opts.framingTimeShare ?? 0.4));
  const budgetLeft = (): boolean => Date.now() - t0 < opts.budgetMs;
  let probeN = 0;
  let agent = new RawAgent(opts.agentJs);
  let checked = 0; // responses of the current agent already validated
  const retire = (): void => {
    report.peakKb = Math.max(report.peakKb, agent.peakKb);
    agent.kill();
  };
  const checkAnswers = (what: string): void => {
    for (; checked < agent.responses.length; checked++) {
      const a = agent.responses[checked] as AgentResponse;
      if (typeof a.id === 'string' && a.id.startsWith('probe-')) continue;
      report.answers++;
      const why = uncodedReason(a);
      if (why) {
        report.uncoded++;
        note(`uncoded answer to ${what}: ${why}`);
      }
    }
    for (const g of agent.garbage.splice(0)) note(`garbage after ${what}: ${g}`);
  };
  /** Send a probe and wait for it, or for the agent's exit. */
  const probe = async (ms: number): Promise<boolean> => {
    const id = `probe-${probeN++}`;
    await agent.write(frame(JSON.stringify({ jsonrpc: '2.0', id, method: '$probe' })));
    return agent.until(() => agent.response(id) !== undefined || agent.exit !== undefined, ms);
  };
  const send = async (input: Input): Promise<void> => {
    for (const [i, p] of input.pieces.entries()) {
      if (i > 0) await new Promise((res) => setTimeout(res, 1));
      await agent.write(p);
    }
  };
  const judgeExit = async (what: string, expectClose: boolean): Promise<void> => {
    await agent.exited;
    checkAnswers(what);
    const last = [...agent.responses].reverse().find((a) => a.id === null);
    const orderly =
      agent.exit?.code === 0 &&
      agent.exit.signal === null &&
      /the stream cannot be trusted after a framing error/.test(last?.error?.message ?? '');
    if (orderly && expectClose) report.orderlyCloses++;
    else {
      report.crashes++;
      note(
        `${orderly ? 'unexpected close' : 'crash'} after ${what}: exit ${JSON.stringify(agent.exit)}, stderr ${agent.stderr.join('').slice(-500)}`,
      );
    }
    retire();
    agent = new RawAgent(opts.agentJs);
    checked = 0;
  };

  // Phase 1: the stream. One agent, exact answer counts; memory measured after the fixed inputs.
  await probe(PROBE_MS);
  let expected = agent.responses.length;
  const fixed = fixedInputs();
  const warmUp = fixed.length + 50;
  const samples: number[] = [];
  const batchSize = opts.batch ?? 4;
  while (report.streamInputs < streamCount && Date.now() < streamUntil) {
    if (report.streamInputs >= warmUp && report.rssStartKb === 0) report.rssStartKb = agent.memory()?.rssKb ?? 0;
    // A few inputs, then one probe: the answer count is exact per batch.
    const batch: Input[] = [];
    let owed = 0;
    while (batch.length < batchSize && report.streamInputs < streamCount) {
      const input = fixed.shift() ?? streamInput(r, verifyObject);
      batch.push(input);
      await send(input);
      owed += input.answers ?? 0;
      report.streamInputs++;
      if (report.streamInputs % 250 === 0) {
        const rss = agent.memory()?.rssKb ?? 0;
        samples.push(rss);
        opts.progress?.(`stream ${report.streamInputs}/${streamCount}, rss ${rss} kB`);
      }
    }
    const what = batch.map((i) => i.what).join(' | ');
    expected += owed + 1;
    const answered = await probe(PROBE_MS);
    if (agent.exit !== undefined) {
      await judgeExit(what, false);
      await probe(PROBE_MS);
      expected = agent.responses.length;
      continue;
    }
    if (!answered) {
      report.hangs++;
      note(`no answer to the probe after ${what}`);
      retire();
      agent = new RawAgent(opts.agentJs);
      checked = 0;
      await probe(PROBE_MS);
      expected = agent.responses.length;
      continue;
    }
    // The probe may overtake slow answers (a verify): wait for the count, then judge it.
    await agent.until(() => agent.responses.length >= expected, PROBE_MS);
    if (agent.responses.length !== expected) {
      report.miscounted++;
      note(`${what}: ${agent.responses.length - expected + owed} answers, expected ${owed}`);
      expected = agent.responses.length;
    }
    checkAnswers(what);
  }
  report.rssEndKb = agent.memory()?.rssKb ?? 0;
  report.rssMidKb = samples[Math.floor(samples.length / 2)] ?? report.rssStartKb;
  checkAnswers('the stream phase');

  // Phase 2: framing. Answers or an orderly close, never a hang.
  while (report.framingInputs < framingCount && budgetLeft()) {
    const input = framingInput(r);
    report.framingInputs++;
    await send(input);
    let done = await probe(3000);
    if (!done) {
      // The input may have declared a body that never came: complete it, then probe again.
      const declared = [
        ...Buffer.concat(input.pieces)
          .toString('latin1')
          .matchAll(/content-length[ \t]*:[ \t]*([0-9]{1,9})\b/gi),
      ];
      const owed =
        Math.min(
          declared.reduce((s, m) => s + Number(m[1]), 0),
          48 * 1024 * 1024,
        ) + 64;
      await agent.write(Buffer.alloc(owed, 0x20));
      done = await probe(HANG_MS);
    }
    if (agent.exit !== undefined) await judgeExit(input.what, true);
    else if (!done) {
      report.hangs++;
      note(`hang after ${input.what}`);
      retire();
      agent = new RawAgent(opts.agentJs);
      checked = 0;
    } else checkAnswers(input.what);
    if (report.framingInputs % 50 === 0) opts.progress?.(`framing ${report.framingInputs}/${framingCount}`);
  }
  checkAnswers('the framing phase');
  retire();
  report.inputs = report.streamInputs + report.framingInputs;
  report.elapsedMs = Date.now() - t0;
  return report;
}

/** A seed from the environment (DFS_FUZZ_SEED) or fresh. */
export function fuzzSeed(): number {
  const env = Number(process.env.DFS_FUZZ_SEED);
  return Number.isInteger(env) && env > 0 ? env : randomBytes(4).readUInt32BE() || 1;
}
