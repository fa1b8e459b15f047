/**
 * AgentError: a coded failure the server turns into a JSON-RPC error response whose
 * `code` is the protocol ErrorCode and whose `data` is {code, message, detail}.
 * fromNative() maps addon errnos onto codes in one place.
 */

import { ErrorCode, type ErrorData } from '@dfs/protocol';
import type { NativeError } from './native';

export class AgentError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }

  toData(): ErrorData {
    return this.detail === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, detail: this.detail };
  }
}

const EPERM = 1;
const ENOENT = 2;
const EACCES = 13;
const EINVAL = 22;
const EOPNOTSUPP = 95;
const ENOTSUPP = 524;

export function isNativeError(err: unknown): err is NativeError {
  return err instanceof Error && typeof (err as Partial<NativeError>).errno === 'number';
}

/** Wrap any error thrown by an addon call as an AgentError with a fitting code. */
export function fromNative(err: unknown, what: string): AgentError {
  if (err instanceof AgentError) return err;
  if (err instanceof TypeError || err instanceof RangeError) {
    return new AgentError(ErrorCode.BadRequest, `${what}: ${err.message}`);
  }
  if (!isNativeError(err)) {
    return new AgentError(ErrorCode.Internal, `${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const detail = `${err.op} failed with errno ${err.errno}`;
  switch (err.errno) {
    case EPERM:
    case EACCES:
      return new AgentError(ErrorCode.PermissionDenied, `${what}: ${err.message}`, detail);
    case ENOENT:
      return new AgentError(ErrorCode.NotFound, `${what}: ${err.message}`, detail);
    case EOPNOTSUPP:
    case ENOTSUPP:
      return new AgentError(ErrorCode.KernelFeatureMissing, `${what}: ${err.message}`, detail);
    case EINVAL:
      if (err.op.includes('open')) return new AgentError(ErrorCode.BadObject, `${what}: ${err.message}`, detail);
      return new AgentError(ErrorCode.BpfError, `${what}: ${err.message}`, detail);
    default:
      return new AgentError(ErrorCode.BpfError, `${what}: ${err.message}`, detail);
  }
}
