// Test support: the built CLI (dist/cli/main.js) run as a user would, its exit code, stdout and
// stderr kept whatever happened (a failing command is a result, not an exception).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './repo';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** The environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Written to the CLI's stdin, which is then closed (default: stdin closed at once). */
  input?: string;
  /** Working directory (default: this process's); `build` and `verify` write compile_commands.json there. */
  cwd?: string;
}

export async function runCli(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [join(repoRoot(), 'dist/cli/main.js'), ...args],
      { maxBuffer: 256 << 20, env: opts.env ?? process.env, ...(opts.cwd ? { cwd: opts.cwd } : {}) },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : -1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(opts.input ?? '');
  });
}
