/**
 * Errors as data: every failure that crosses a process boundary (agent → extension,
 * core → CLI/extension) carries one of these codes plus a one-line message and an
 * optional detail. Codes are stable wire values; add, never renumber.
 */

export enum ErrorCode {
  /** A request had missing, mistyped or out-of-range fields. */
  BadRequest = 4000,
  /** The agent or the kernel refused for lack of privilege. */
  PermissionDenied = 4003,
  /** A named thing (program, map, node, mount) does not exist. */
  NotFound = 4004,
  /** The request conflicts with current state (e.g. attach while attached by another client). */
  Conflict = 4009,
  /** Unexpected failure inside the agent or core; a bug. */
  Internal = 5000,
  /** The kernel lacks a program type, map type, attach type or helper the request needs. */
  KernelFeatureMissing = 5001,
  /** The kernel verifier rejected a program; detail carries the log. */
  VerifierRejected = 5002,
  /** A BPF syscall failed for another reason (errno in detail). */
  BpfError = 5003,
  /** No JuiceFS mount was found on the node. */
  JuiceFsNotFound = 5004,
  /** The object file is not a loadable BPF ELF. */
  BadObject = 5005,
  /** The node's host key differs from the known_hosts entry. */
  HostKeyMismatch = 6001,
  /** The node's host key is not in known_hosts at all. */
  HostKeyUnknown = 6002,
  /** SSH authentication failed (no usable key, agent or passphrase). */
  AuthFailed = 6003,
  /** The node did not answer (DNS, TCP or SSH handshake). */
  NodeUnreachable = 6004,
  /** The agent is not installed on the node or sudo refuses to run it. */
  AgentUnavailable = 6005,
  /** The agent speaks another protocol version than this client. */
  AgentVersionMismatch = 6006,
  /** The local test node is not up. */
  NodeNotUp = 6007,
  /** The connection to the node went away during a request. */
  ConnectionLost = 6008,
  /** No node is connected (extension commands). */
  NotConnected = 6009,
  /** A tool the step needs (clang, bpftool, juicefs, redis-benchmark...) is missing. */
  ToolMissing = 6010,
  /** A verifier log outgrew the largest buffer the agent will allocate. */
  VerifierLogTooLarge = 5006,
  /** The user cancelled a long operation before it could give its result. */
  Cancelled = 4010,
}

/** The `data` of a JSON-RPC error response, and the shape of every DfsError. */
export interface ErrorData {
  code: ErrorCode;
  message: string;
  detail?: string;
}

export function errorCodeName(code: number): string {
  return ErrorCode[code] ?? `Error${code}`;
}
