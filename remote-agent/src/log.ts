/**
 * The agent's log: JSON lines `{ts, level, tag, opId, msg}` on stderr (which the SSH channel
 * carries separately from the JSON-RPC stream on stdout), and the same entries forwarded to
 * the client as `agent/log` notifications once a connection is listening.
 */

import type { LogEntry, LogLevel } from '@dfs/protocol';

export type LogSink = (entry: LogEntry) => void;

export class AgentLog {
  private sink: LogSink | undefined;

  /** Forward entries to the connected client too (set by the server once it listens). */
  forwardTo(sink: LogSink | undefined): void {
    this.sink = sink;
  }

  write(level: LogLevel, tag: string, msg: string, opId?: number): void {
    const entry: LogEntry = { ts: new Date().toISOString(), level, tag, msg };
    if (opId !== undefined) entry.opId = opId;
    process.stderr.write(JSON.stringify(entry) + '\n');
    try {
      this.sink?.(entry);
    } catch {
      // The client went away mid-notification; stderr already has the entry.
      this.sink = undefined;
    }
  }

  info(tag: string, msg: string, opId?: number): void {
    this.write('info', tag, msg, opId);
  }
  warn(tag: string, msg: string, opId?: number): void {
    this.write('warn', tag, msg, opId);
  }
  error(tag: string, msg: string, opId?: number): void {
    this.write('error', tag, msg, opId);
  }
  debug(tag: string, msg: string, opId?: number): void {
    this.write('debug', tag, msg, opId);
  }
}
