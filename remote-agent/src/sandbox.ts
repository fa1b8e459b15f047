/**
 * Untrusted BPF objects meet libbpf first in a disposable child process, never in the agent:
 * a damaged object that crashes libbpf (Debian 12's 1.1.2 segfaulted on two flipped bits of
 * .BTF), loops or eats memory takes down only the child, and the client gets a coded
 * `BadObject` that says what happened ("the object crashed the loader (SIGSEGV)") while the
 * agent keeps serving. Work in the child also leaves the agent's only thread free, so a long
 * verification no longer blocks `bypass/status`.
 *
 * The child is this same agent script run as `agent.js --check-object` (main.ts), by
 * `process.execPath`, under a data-size rlimit (`ulimit -d`: covers malloc, mmap'ed buffers and
 * the V8 heap) and a wall-clock timeout, after which it is SIGKILLed. One job per child:
 *   stdin   one JSON line (SandboxJob without the object) and then the object's raw bytes
 *   stdout  one JSON line: {"ok":true,"result":…} or {"ok":false,"error":{code,message,detail?}}
 *   stderr  the child's AgentLog lines, re-logged here under the request's opId
 * A signal, a timeout, a non-zero exit or an answer that is not exactly that shape is a
 * BadObject. At most MAX_CHILDREN run at once (more wait), and every child still running when
 * the agent exits is killed with it.
 *
 * Starting a child (Node and the addon) takes about 0.1 s, which every save would pay on its
 * way to the squiggle. So after a verification the agent starts the next verify child at once,
 * idle until its job arrives (one spare at most); the next verification takes it. Each job
 * still gets a fresh process that has never seen another object.
 */

import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { ErrorCode, type ErrorData, type LogLevel } from '@dfs/protocol';
import { AgentError, fromNative } from './errors';
import { AgentLog } from './log';
import type { Addon } from './native';

/** What a child does with the object. */
export type SandboxJob =
  /** The whole `bpf/verify` (verify.ts): stateless, so it runs in the child entirely. */
  | { kind: 'verify'; objectName: string; logLevel?: 1 | 2 }
  /** Open, check and load as `bypass/attach` will (bypass.ts), then close. */
  | { kind: 'check-bypass'; objectName: string };

export interface SandboxLimits {
  timeoutMs: number;
  /** RLIMIT_DATA of the child, in MiB. */
  memoryMiB: number;
}

/** Runs one job in-process; the child's side (main.ts --check-object supplies the addon). */
export type SandboxWorker = (addon: Addon, job: SandboxJob, elf: Buffer, log: AgentLog) => unknown;

/** The kernel stops a program's verification after 1M instructions; 10 min covers the slowest. */
export const VERIFY_LIMITS: SandboxLimits = { timeoutMs: 10 * 60_000, memoryMiB: 3072 };
export const CHECK_LIMITS: SandboxLimits = { timeoutMs: 2 * 60_000, memoryMiB: 1024 };
/** Jobs beyond this many wait for a free slot: the agent must not fork without bound. */
const MAX_CHILDREN = 2;
/** Largest answer read from a child (verify results carry gzipped logs of up to 256 MiB). */
const MAX_ANSWER_BYTES = 256 << 20;
const LOG_LEVELS = new Set<LogLevel>(['trace', 'debug', 'info', 'warn', 'error']);
/** Longest stderr line kept from a child (a longer one is cut). */
const MAX_LINE = 64 << 10;

export interface SandboxOptions {
  /** The command that runs a child; by default this agent script with --check-object. */
  command?: readonly string[];
}

const running = new Set<ChildProcess>();
/** A started verify child waiting for its job (see the header); at most one. */
let spare:
  { child: ChildProcessWithoutNullStreams; limits: SandboxLimits; command: SandboxOptions['command'] } | undefined;
/** Children running or about to be spawned; a freed slot passes straight to the next waiter. */
let active = 0;
const waiting: (() => void)[] = [];
let exitHookInstalled = false;

function childCommand(limits: SandboxLimits, opts: SandboxOptions): string[] {
  const node = opts.command ?? [
    process.execPath,
    `--max-old-space-size=${Math.floor(limits.memoryMiB * 0.75)}`,
    process.argv[1] ?? '',
    '--check-object',
  ];
  // The rlimit is set by sh in the child before exec; no argument reaches the shell's parser.
  return ['/bin/sh', '-c', 'ulimit -d "$1" && shift && exec "$@"', 'sh', String(limits.memoryMiB * 1024), ...node];
}

async function acquire(): Promise<void> {
  if (active < MAX_CHILDREN) {
    active++;
    return;
  }
  await new Promise<void>((resolve) => waiting.push(resolve));
}

function release(): void {
  const next = waiting.shift();
  if (next) next();
  else active--;
}

function killAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

function badObject(objectName: string, what: string, detail?: string): AgentError {
  return new AgentError(ErrorCode.BadObject, `${objectName}: ${what}`, detail);
}

function isErrorData(v: unknown): v is ErrorData {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return (
    typeof e.code === 'number' &&
    ErrorCode[e.code] !== undefined &&
    typeof e.message === 'string' &&
    (e.detail === undefined || typeof e.detail === 'string')
  );
}

/** Re-log a child's stderr line under this request, or keep it for the failure detail. */
function relay(line: string, log: AgentLog, opId: number, stray: string[]): void {
  try {
    const e = JSON.parse(line) as Record<string, unknown>;
    if (typeof e.level === 'string' && LOG_LEVELS.has(e.level as LogLevel) && typeof e.msg === 'string') {
      log.write(e.level as LogLevel, `sandbox/${typeof e.tag === 'string' ? e.tag : '?'}`, e.msg, opId);
      return;
    }
  } catch {
    // not a log line: kept below
  }
  stray.push(line.slice(0, 500));
  if (stray.length > 20) stray.shift();
}

/**
 * Run `job` on `elf` in a fresh child; resolves with the child's result, which `accept`
 * checks (returning it typed) or rejects by returning null. Rejects with the child's coded
 * error, or with BadObject when the child died, hung or answered garbage.
 */
export async function runSandboxed<R>(
  job: SandboxJob,
  elf: Buffer,
  accept: (result: unknown) => R | null,
  log: AgentLog,
  opId: number,
  limits: SandboxLimits,
  opts: SandboxOptions = {},
): Promise<R> {
  await acquire();
  try {
    return await runChild(job, elf, accept, log, opId, limits, opts);
  } finally {
    release();
    if (job.kind === 'verify') startSpare(limits, opts);
  }
}

function spawnChild(limits: SandboxLimits, opts: SandboxOptions): ChildProcessWithoutNullStreams {
  killAllOnExit();
  const [cmd = '', ...args] = childCommand(limits, opts);
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  return child;
}

/** Start the spare verify child unless there is one. */
function startSpare(limits: SandboxLimits, opts: SandboxOptions): void {
  if (spare) return;
  const child = spawnChild(limits, opts);
  spare = { child, limits, command: opts.command };
  const forget = (): void => {
    running.delete(child);
    if (spare?.child === child) spare = undefined;
  };
  child.once('exit', forget);
  child.once('error', forget);
}

/** The spare, if it was started for these limits and is still alive; it is then no longer spare. */
function takeSpare(limits: SandboxLimits, opts: SandboxOptions): ChildProcessWithoutNullStreams | undefined {
  const s = spare;
  if (!s || s.limits !== limits || s.command !== opts.command) return undefined;
  spare = undefined;
  if (s.child.exitCode !== null || s.child.signalCode !== null) return undefined;
  s.child.removeAllListeners('exit');
  s.child.removeAllListeners('error');
  return s.child;
}

async function runChild<R>(
  job: SandboxJob,
  elf: Buffer,
  accept: (result: unknown) => R | null,
  log: AgentLog,
  opId: number,
  limits: SandboxLimits,
  opts: SandboxOptions,
): Promise<R> {
  const child = takeSpare(limits, opts) ?? spawnChild(limits, opts);
  const stdout: Buffer[] = [];
  let stdoutBytes = 0;
  let overflow = false;
  const stray: string[] = [];
  let errPartial = '';
  let timedOut = false;

  child.stdout.on('data', (d: Buffer) => {
    stdoutBytes += d.length;
    if (stdoutBytes > MAX_ANSWER_BYTES) {
      overflow = true;
      child.kill('SIGKILL');
    } else stdout.push(d);
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    const lines = (errPartial + d).split('\n');
    errPartial = lines.pop() ?? '';
    if (errPartial.length > MAX_LINE) {
      lines.push(errPartial.slice(0, MAX_LINE));
      errPartial = '';
    }
    for (const l of lines) if (l.trim() !== '') relay(l, log, opId, stray);
  });
  // A child that dies before reading its input makes these writes fail: its exit says why.
  child.stdin.on('error', () => undefined);
  child.stdin.write(JSON.stringify(job) + '\n');
  child.stdin.end(elf);

  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, limits.timeoutMs);
  let spawnError: Error | undefined;
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.on('error', (err) => {
      spawnError = err;
      resolve([null, null]);
    });
    child.on('close', (c, s) => resolve([c, s]));
  });
  clearTimeout(timer);
  running.delete(child);
  if (errPartial.trim() !== '') relay(errPartial, log, opId, stray);

  const name = job.objectName;
  // Not the object's fault: the agent could not start a child at all (fork or exec failed).
  if (spawnError) throw new AgentError(ErrorCode.Internal, `cannot start a sandbox child: ${spawnError.message}`);
  const detail = stray.length > 0 ? stray.join('\n') : undefined;
  if (timedOut) {
    throw badObject(name, `the loader did not finish within ${Math.round(limits.timeoutMs / 1000)} s (killed)`, detail);
  }
  if (overflow) throw badObject(name, `the loader's answer exceeded ${MAX_ANSWER_BYTES >> 20} MiB (killed)`);
  const oom = detail !== undefined && /out of memory|Allocation failed|ENOMEM|Cannot allocate memory/i.test(detail);
  if (signal !== null) {
    throw badObject(
      name,
      oom
        ? `the object exhausted the loader's ${limits.memoryMiB} MiB memory limit (${signal})`
        : `the object crashed the loader (${signal})`,
      detail,
    );
  }
  if (code !== 0) {
    throw badObject(
      name,
      oom
        ? `the object exhausted the loader's ${limits.memoryMiB} MiB memory limit (exit ${code})`
        : `the loader exited with ${code === null ? 'no status' : `status ${code}`} before answering`,
      detail,
    );
  }
  let answer: unknown;
  try {
    answer = JSON.parse(Buffer.concat(stdout).toString('utf8'));
  } catch {
    throw badObject(name, 'the loader answered garbage (not JSON)', detail);
  }
  const a = answer as { ok?: unknown; result?: unknown; error?: unknown } | null;
  if (a?.ok === false && isErrorData(a.error)) throw new AgentError(a.error.code, a.error.message, a.error.detail);
  if (a?.ok === true) {
    const result = accept(a.result);
    if (result !== null && result !== undefined) return result;
  }
  throw badObject(name, 'the loader answered garbage (not a result of the expected shape)', detail);
}

/** Coded form of anything a job threw: AgentErrors as they are, addon errors through fromNative. */
function toErrorData(err: unknown, job: SandboxJob): ErrorData {
  return fromNative(err, job.objectName).toData();
}

/**
 * The child's side (`agent.js --check-object`): read the job and the object from stdin, run
 * `worker`, print the one-line answer, exit. Anything thrown becomes a coded answer; only a
 * crash, a hang or the rlimit can end it otherwise, and the parent reports those.
 */
export function sandboxChild(addon: () => Addon, worker: SandboxWorker): void {
  // Load the addon before the job comes: a spare child (see the header) is ready when it does.
  addon();
  const chunks: Buffer[] = [];
  process.stdin.on('data', (d: Buffer) => chunks.push(d));
  process.stdin.on('end', () => {
    const input = Buffer.concat(chunks);
    const nl = input.indexOf(0x0a);
    let job: SandboxJob;
    try {
      job = JSON.parse(input.subarray(0, nl < 0 ? input.length : nl).toString('utf8')) as SandboxJob;
    } catch {
      process.stdout.write(
        JSON.stringify({ ok: false, error: { code: ErrorCode.BadRequest, message: 'sandbox: unreadable job' } }) + '\n',
      );
      return;
    }
    const elf = input.subarray(nl + 1);
    let answer: unknown;
    try {
      answer = { ok: true, result: worker(addon(), job, elf, new AgentLog()) };
    } catch (err) {
      answer = { ok: false, error: toErrorData(err, job) };
    }
    process.stdout.write(JSON.stringify(answer) + '\n');
  });
}
