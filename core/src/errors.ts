/**
 * DfsError: the one error type of the core, the CLI and the extension. It carries an
 * ErrorCode from the shared protocol so callers branch on codes, never on message text,
 * and the CLI prints `message` as its one-line reason.
 */

import { ErrorCode, type ErrorData, errorCodeName } from '@dfs/protocol';

export class DfsError extends Error implements ErrorData {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = `DfsError(${errorCodeName(code)})`;
  }

  toJSON(): ErrorData {
    return this.detail === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, detail: this.detail };
  }
}

/** A short sentence for any thrown value, for logs and one-line CLI reasons. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
