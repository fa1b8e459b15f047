/**
 * Running local programs: argv arrays only (never a shell string), bounded time, captured
 * output, and a DfsError naming the command on failure. Used by the test-node provisioning,
 * the BPF build and the benchmark; never by the agent for client requests.
 */

import { spawn, type SpawnOptions } from 'node:child_process';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';

export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Milliseconds before the child is killed (SIGKILL) and the call fails. Default 120 s. */
  timeoutMs?: number;
  /** Data written to stdin, then stdin is closed. */
  input?: string | Buffer;
  /** Resolve with the result instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
}

export interface ExecResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function exec(file: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] };
    const child = spawn(file, [...args], spawnOpts);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const code = e.code === 'ENOENT' ? ErrorCode.ToolMissing : ErrorCode.Internal;
      reject(new DfsError(code, `cannot run ${file}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const res: ExecResult = {
        code: code ?? -1,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (res.code === 0 || opts.allowFailure) return resolve(res);
      const why = signal ? `killed by ${signal}` : `exit ${res.code}`;
      const tail = lastLine(res.stderr) || lastLine(res.stdout);
      reject(
        new DfsError(
          ErrorCode.Internal,
          `${[file, ...args].join(' ')} failed (${why})${tail ? `: ${tail}` : ''}`,
          res.stderr,
        ),
      );
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return (lines[lines.length - 1] ?? '').trim().slice(0, 300);
}
