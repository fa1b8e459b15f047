/**
 * CLI output conventions (DESIGN.md §7): with --json, exactly one JSON document on stdout;
 * without, short human lines on stdout. Progress and logs go to stderr (progress on a terminal, logs with --verbose). Failures print one line `dfs-ebpf: <reason>` on stderr and exit non-zero.
 */

import type { Logger, Progress } from '@dfs/core/log';

export interface Io {
  json: boolean;
  verbose: boolean;
  /**
   * Set by the fleet fan-out (fleet.ts) when this run is one node's of several: the node, and
   * where its result goes instead of stdout.
   */
  node?: string;
  collect?: (doc: Record<string, unknown>, lines: string[]) => void;
}

/** A command's result: its JSON document with --json, else its lines (or both to the fan-out's collector). */
export function report(io: Io, doc: Record<string, unknown>, lines: string[]): void {
  if (io.collect) io.collect(doc, lines);
  else if (io.json) printJson(doc);
  else printLines(lines);
}

export function printJson(doc: unknown): void {
  process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
}

export function printLines(lines: string[]): void {
  process.stdout.write(lines.join('\n') + '\n');
}

export function stderrLogger(io: Io): Logger {
  const w = (level: string) => (msg: string) => {
    if (io.verbose) process.stderr.write(`[${level}]${io.node ? ` ${io.node}:` : ''} ${msg}\n`);
  };
  return { trace: w('trace'), debug: w('debug'), info: w('info'), warn: w('warn'), error: w('error') };
}

/** Progress lines only on a terminal (or with --verbose), so a failure's stderr stays one line. */
export function stderrProgress(io: Io): Progress {
  return (step) => {
    if (io.verbose || process.stderr.isTTY) process.stderr.write(`… ${io.node ? `${io.node}: ` : ''}${step}\n`);
  };
}
