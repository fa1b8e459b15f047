// Test support: the damaged-object fuzzer shared by the bounded CI test
// (test/integration/fuzz-objects.test.ts) and the long run outside CI (test/fuzz/objects.ts).
// Each case is a damaged variant (test/support/damage.ts) of one of our real objects, made from
// its own RNG derived from (seed, index), so any case replays alone. A case goes through the
// agent (`bpf/verify` by way of core's verifyObjectOnNode, i.e. the CLI's verify path with its
// log parser and BTF line reader; or `bypass/attach`, detached again when it succeeds) and
// straight through core's btfLineInfo; its outcome is classified, never thrown.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BypassAttachRequest, BypassDetachRequest, ErrorCode, errorCodeName } from '../../protocol/src';
import { DfsError } from '../../core/src/errors';
import { btfLineInfo } from '../../core/src/verifier/btfLines';
import { verifyObjectOnNode, type AgentRequester } from '../../core/src/verifier/verify';
import { mutate, Rng, type Mutant } from './damage';
import { repoRoot } from './repo';

export interface BaseObject {
  name: string;
  bytes: Buffer;
}

/** Our real objects: the bypass, the agent's probes, and the verifier fixtures with their line info. */
export function baseObjects(): BaseObject[] {
  const root = repoRoot();
  const files = [
    join(root, 'build/bpf/bypass.bpf.o'),
    ...readdirSync(join(root, 'build/bpf/probes')).map((f) => join(root, 'build/bpf/probes', f)),
    ...readdirSync(join(root, 'test/fixtures/verifier-logs'))
      .filter((f) => f.endsWith('.o'))
      .map((f) => join(root, 'test/fixtures/verifier-logs', f)),
  ];
  return files.map((f) => ({ name: f.slice(f.lastIndexOf('/') + 1), bytes: readFileSync(f) }));
}

/** The RNG of case `index` of a run with `seed`: every case replays on its own. */
export function caseRng(seed: number, index: number): Rng {
  return new Rng((Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
}

export type OutcomeKind =
  /** The agent answered with a result (verified: accepted or rejected; attached then detached). */
  | 'result'
  /** A coded error other than Internal and ConnectionLost. */
  | 'coded'
  /** Internal, or an error that is not a DfsError at all (a raw JavaScript error). */
  | 'uncoded'
  /** The connection died: the agent crashed. */
  | 'lost'
  /** No answer within the watchdog. */
  | 'hang';

export interface Outcome {
  kind: OutcomeKind;
  code?: string;
  message?: string;
  ms: number;
}

export interface Failure {
  index: number;
  base: string;
  mutation: string;
  outcome: Outcome;
}

export class FuzzStats {
  inputs = 0;
  readonly kinds = new Map<OutcomeKind, number>();
  readonly codes = new Map<string, number>();
  /** The first answer seen with each code: what the agent says about damage of that kind. */
  readonly examples = new Map<string, string>();
  /** BadObjects that say the object crashed the loader: caught by the sandbox. */
  loaderCrashes = 0;
  /** Calls of btfLineInfo that threw. */
  btfLinesThrew = 0;
  maxMs = 0;
  totalMs = 0;
  readonly failures: Failure[] = [];

  add(index: number, base: string, m: Mutant, o: Outcome): void {
    this.inputs++;
    this.kinds.set(o.kind, (this.kinds.get(o.kind) ?? 0) + 1);
    if (o.code) this.codes.set(o.code, (this.codes.get(o.code) ?? 0) + 1);
    if (o.code && !this.examples.has(o.code))
      this.examples.set(o.code, `#${index} ${base} (${m.kind}): ${o.message ?? ''}`);
    if (o.message && /crashed the loader/.test(o.message)) this.loaderCrashes++;
    this.maxMs = Math.max(this.maxMs, o.ms);
    this.totalMs += o.ms;
    if (o.kind === 'uncoded' || o.kind === 'lost' || o.kind === 'hang') {
      if (this.failures.length < 20) this.failures.push({ index, base, mutation: `${m.kind}: ${m.what}`, outcome: o });
    }
  }

  count(kind: OutcomeKind): number {
    return this.kinds.get(kind) ?? 0;
  }

  summary(): string {
    const kinds = [...this.kinds].map(([k, n]) => `${k} ${n}`).join(', ');
    const codes = [...this.codes].map(([k, n]) => `${k} ${n}`).join(', ');
    return `${this.inputs} inputs: ${kinds}; codes: ${codes || 'none'}; loader crashes caught ${this.loaderCrashes}; btfLineInfo threw ${this.btfLinesThrew}; slowest ${this.maxMs} ms`;
  }
}

async function classify(run: () => Promise<unknown>, hangMs: number): Promise<Outcome> {
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const watchdog = new Promise<'hang'>((r) => (timer = setTimeout(() => r('hang'), hangMs)));
  try {
    const r = await Promise.race([run().then(() => 'done' as const), watchdog]);
    return { kind: r === 'hang' ? 'hang' : 'result', ms: Date.now() - t0 };
  } catch (err) {
    const ms = Date.now() - t0;
    if (!(err instanceof DfsError)) return { kind: 'uncoded', message: String(err), ms };
    const code = errorCodeName(err.code);
    if (err.code === ErrorCode.ConnectionLost) return { kind: 'lost', code, message: err.message, ms };
    if (err.code === ErrorCode.Internal) return { kind: 'uncoded', code, message: err.message, ms };
    return { kind: 'coded', code, message: err.message, ms };
  } finally {
    clearTimeout(timer);
  }
}

export interface FuzzOptions {
  seed: number;
  /** Cases [first, first + count). */
  first?: number;
  count: number;
  /** Requests in flight at once (the agent runs two sandbox children at a time). */
  concurrency?: number;
  hangMs?: number;
  onProgress?: (stats: FuzzStats) => void;
}

/** Damaged variants of `bases` through `bpf/verify` (core's verify path) and btfLineInfo. */
export async function fuzzVerify(agent: AgentRequester, bases: BaseObject[], o: FuzzOptions): Promise<FuzzStats> {
  const stats = new FuzzStats();
  const first = o.first ?? 0;
  let next = first;
  const worker = async (): Promise<void> => {
    while (next < first + o.count) {
      const index = next++;
      const rng = caseRng(o.seed, index);
      const base = rng.pick(bases);
      const m = mutate(base.bytes, rng);
      const section = rng.pick(['sockops', 'sk_msg', '.text', 'tracepoint/syscalls/sys_enter_read', 'raw_tp']);
      try {
        btfLineInfo(m.bytes, section, rng.next() < 0.5 ? undefined : 'bypass_sockops');
      } catch {
        stats.btfLinesThrew++;
      }
      const outcome = await classify(
        () => verifyObjectOnNode(agent, m.bytes, { objectName: `fuzz-${index}.bpf.o` }),
        o.hangMs ?? 120_000,
      );
      stats.add(index, base.name, m, outcome);
      if (stats.inputs % 100 === 0) o.onProgress?.(stats);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 3 }, worker));
  return stats;
}

/** Damaged variants of the bypass object through `bypass/attach`; a successful attach is detached at once. */
export async function fuzzAttach(agent: AgentRequester, bypass: Buffer, o: FuzzOptions): Promise<FuzzStats> {
  const stats = new FuzzStats();
  const first = o.first ?? 0;
  for (let index = first; index < first + o.count; index++) {
    const m = mutate(bypass, caseRng(o.seed, index));
    const outcome = await classify(async () => {
      await agent.request(BypassAttachRequest, {
        object: m.bytes.toString('base64'),
        objectName: `fuzz-${index}.bpf.o`,
      });
      const off = await agent.request(BypassDetachRequest, {});
      if (off.attached) throw new Error('still attached after detach');
    }, o.hangMs ?? 120_000);
    stats.add(index, 'bypass.bpf.o', m, outcome);
    if (stats.inputs % 20 === 0) o.onProgress?.(stats);
  }
  return stats;
}

/** Resident set size of a process, in MiB (VmRSS of /proc/PID/status). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}
