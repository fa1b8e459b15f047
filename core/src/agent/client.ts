/**
 * Typed JSON-RPC client for the agent over any byte stream pair (an SSH exec channel in the
 * product, a child process's stdio in tests). Agent errors arrive as DfsError with the
 * agent's ErrorCode; requests pending when the stream closes fail with ConnectionLost, naming
 * the agent's last unmatched (id null) error when there was one: the agent answers a framing
 * error that way just before it closes the stream. vscode-jsonrpc frames exactly as the
 * agent's strict reader (remote-agent/src/framing.ts) expects: `Content-Length: N` CRLF CRLF.
 */

import type { Readable, Writable } from 'node:stream';
import {
  createMessageConnection,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
  type MessageReader,
  type ResponseMessage,
} from 'vscode-jsonrpc/node';
import {
  ErrorCode,
  LogNotification,
  type ErrorData,
  type LogEntry,
  type NotificationSpec,
  type RequestSpec,
} from '@dfs/protocol';
import { DfsError } from '../errors';

function toDfsError(err: unknown, method: string, closedWhy: () => string | undefined): DfsError {
  if (err instanceof ResponseError) {
    const data = err.data as Partial<ErrorData> | undefined;
    const code = typeof data?.code === 'number' ? data.code : err.code;
    return new DfsError(code, err.message, data?.detail);
  }
  const why = closedWhy();
  if (why !== undefined)
    return new DfsError(ErrorCode.ConnectionLost, `${method}: the agent connection closed (${why})`);
  return new DfsError(ErrorCode.ConnectionLost, `${method}: ${err instanceof Error ? err.message : String(err)}`);
}

export class AgentClient {
  private readonly conn: MessageConnection;
  private closedWhy: string | undefined;
  private readonly closeListeners: ((why: string) => void)[] = [];

  /** The message of the last error response the agent sent with id null. */
  private agentSaid: string | undefined;

  constructor(input: Readable, output: Writable) {
    const reader = new StreamMessageReader(input);
    // Seen as each message is read, before the stream's end can close the connection.
    const watched: MessageReader = {
      onError: reader.onError,
      onClose: reader.onClose,
      onPartialMessage: reader.onPartialMessage,
      dispose: () => reader.dispose(),
      listen: (callback) =>
        reader.listen((msg) => {
          const r = msg as Partial<ResponseMessage>;
          if (r.id === null && typeof r.error?.message === 'string') this.agentSaid = r.error.message;
          callback(msg);
        }),
    };
    this.conn = createMessageConnection(watched, new StreamMessageWriter(output));
    this.conn.onClose(() => this.markClosed('stream ended'));
    this.conn.onError(([err]) => {
      if (this.closedWhy === undefined && /closed|EPIPE|destroyed/i.test(err.message)) this.markClosed(err.message);
    });
    this.conn.listen();
  }

  get isClosed(): boolean {
    return this.closedWhy !== undefined;
  }

  markClosed(why: string): void {
    if (this.closedWhy !== undefined) return;
    const full = this.agentSaid === undefined ? why : `${why}; the agent said: ${this.agentSaid}`;
    this.closedWhy = full;
    for (const l of this.closeListeners.splice(0)) l(full);
    this.conn.dispose();
  }

  onClose(listener: (why: string) => void): void {
    if (this.closedWhy !== undefined) listener(this.closedWhy);
    else this.closeListeners.push(listener);
  }

  onLog(listener: (entry: LogEntry) => void): void {
    this.conn.onNotification(LogNotification.method, listener);
  }

  /** Listen to a typed agent notification (e.g. profile/update) until the returned dispose(). */
  onNotification<P>(spec: NotificationSpec<P>, listener: (params: P) => void): { dispose(): void } {
    return this.conn.onNotification(spec.method, listener);
  }

  async request<P, R>(spec: RequestSpec<P, R>, params: P): Promise<R> {
    if (this.closedWhy !== undefined) {
      throw new DfsError(
        ErrorCode.ConnectionLost,
        `${spec.method}: the agent connection is closed (${this.closedWhy})`,
      );
    }
    // Pending requests must fail when the stream closes, even if the transport never answers.
    let onClosed: ((why: string) => void) | undefined;
    const closed = new Promise<never>((_, reject) => {
      onClosed = (why) =>
        reject(new DfsError(ErrorCode.ConnectionLost, `${spec.method}: the agent connection closed (${why})`));
      this.closeListeners.push(onClosed);
    });
    try {
      return await Promise.race([this.conn.sendRequest<R>(spec.method, params), closed]);
    } catch (err) {
      throw err instanceof DfsError ? err : toDfsError(err, spec.method, () => this.closedWhy);
    } finally {
      const i = onClosed ? this.closeListeners.indexOf(onClosed) : -1;
      if (i >= 0) this.closeListeners.splice(i, 1);
    }
  }

  /** Close the JSON-RPC connection (the caller closes the transport). */
  dispose(): void {
    this.markClosed('disposed');
  }
}
