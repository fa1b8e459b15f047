/**
 * CLI output conventions (DESIGN.md §7): with --json, exactly one JSON document on stdout;
 * without, short human lines on stdout. Progress and logs go to stderr (progress on a terminal, logs with --verbose). Failures print one line `dfs-ebpf: <reason>` on stderr and exit non-zero.
 */

import type { Logger, Progress } from '@dfs/core/log';

export interface Io {
  json: boolean;
  verbose: boolean;
}

export function printJson(doc: unknown): void {
  process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
}

export function printLines(lines: string[]): void {
  process.stdout.write(lines.join('\n') + '\n');
}

export function stderrLogger(io: Io): Logger {
  const w = (level: string) => (msg: string) => {
    if (io.verbose) process.stderr.write(`[${level}] ${msg}\n`);
  };
  return { trace: w('trace'), debug: w('debug'), info: w('info'), warn: w('warn'), error: w('error') };
}

/** Progress lines only on a terminal (or with --verbose), so a failure's stderr stays one line. */
export function stderrProgress(io: Io): Progress {
  return (step) => {
    if (io.verbose || process.stderr.isTTY) process.stderr.write(`… ${step}\n`);
  };
}
