// Test support: the built CLI (dist/cli/main.js) run as a user would, its exit code, stdout and
// stderr kept whatever happened (a failing command is a result, not an exception).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './repo';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: readonly string[]): Promise<CliResult> {
  try {
    const r = await promisify(execFile)(process.execPath, [join(repoRoot(), 'dist/cli/main.js'), ...args], {
      maxBuffer: 256 << 20,
    });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
