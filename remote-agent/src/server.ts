/**
 * The agent's JSON-RPC surface: dispatches what the frame reader (framing.ts) lets through,
 * converts and validates the params, calls the manager, and turns every failure into a coded
 * JSON-RPC error. Nothing here outlives the connection. Bad input is answered, never fatal:
 * bodies that are not JSON get -32700, messages that are not requests -32600 (both from the
 * reader), unknown methods -32601, wrong fields a BadRequest naming the field; the connection
 * keeps serving. Only a framing error ends it, after one answer (see framing.ts).
 */

import { isIPv4 } from 'node:net';
import {
  ErrorCodes,
  type Message,
  type MessageWriter,
  type NotificationMessage,
  type ResponseMessage,
} from 'vscode-jsonrpc/node';
import {
  AgentUpdateRequest,
  BypassAttachRequest,
  BypassDetachRequest,
  BypassStatusRequest,
  ErrorCode,
  InitializeRequest,
  KernelBtfRequest,
  LogNotification,
  PROFILE_LIMITS,
  ProfileStartRequest,
  ProfileStopRequest,
  ProfileUpdateNotification,
  VerifyRequest,
  type AgentUpdateParams,
  type BypassAttachParams,
  type ErrorData,
  type Endpoint,
  type InitializeParams,
  type KernelBtfParams,
  type ProfileStartParams,
  type ProfileStopParams,
  type RequestSpec,
  type VerifyParams,
} from '@dfs/protocol';
import { AgentError } from './errors';
import { JSONRPC_PARSE_ERROR, type FrameReader, type RequestId } from './framing';
import type { AgentLog } from './log';
import type { Manager } from './manager';
import { MAX_BUNDLE_BYTES } from './update';

/** Largest object the agent accepts (decoded); BPF objects are kilobytes, 16 MiB is generous. */
const MAX_OBJECT_BYTES = 16 << 20;

type Fields = Record<string, unknown>;

function bad(msg: string): AgentError {
  return new AgentError(ErrorCode.BadRequest, msg);
}

function asObject(params: unknown, method: string): Fields {
  if (params === undefined || params === null) return {};
  if (typeof params !== 'object' || Array.isArray(params)) throw bad(`${method}: params must be an object`);
  return params as Fields;
}

function onlyKnown(p: Fields, method: string, known: string[]): void {
  const unknown = Object.keys(p).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw bad(`${method}: unknown field ${unknown.join(', ')}`);
}

function optString(p: Fields, key: string, method: string, max = 4096): string | undefined {
  const v = p[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > max) {
    throw bad(`${method}: ${key} must be a non-empty string of at most ${max} characters`);
  }
  return v;
}

function endpoint(v: unknown, where: string): Endpoint {
  if (typeof v !== 'object' || v === null) throw bad(`${where} must be an object {host, port}`);
  const { host, port } = v as Fields;
  if (typeof host !== 'string' || !isIPv4(host)) throw bad(`${where}.host must be an IPv4 address`);
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw bad(`${where}.port must be an integer in 1..65535`);
  }
  return { host, port };
}

export function parseInitialize(params: unknown): InitializeParams {
  const m = InitializeRequest.method;
  const p = asObject(params, m);
  onlyKnown(p, m, ['client', 'protocolVersion']);
  const client = optString(p, 'client', m, 200);
  if (client === undefined) throw bad(`${m}: client is required`);
  if (typeof p.protocolVersion !== 'number' || !Number.isInteger(p.protocolVersion)) {
    throw bad(`${m}: protocolVersion must be an integer`);
  }
  return { client, protocolVersion: p.protocolVersion };
}

export function parseBypassAttach(params: unknown): BypassAttachParams {
  const m = BypassAttachRequest.method;
  const p = asObject(params, m);
  onlyKnown(p, m, ['object', 'objectName', 'mountpoint', 'extraEndpoints', 'pin']);
  const out: BypassAttachParams = {};
  if (p.pin !== undefined) {
    if (typeof p.pin !== 'boolean') throw bad(`${m}: pin must be true or false`);
    out.pin = p.pin;
  }
  const object = optString(p, 'object', m, Math.ceil((MAX_OBJECT_BYTES * 4) / 3) + 4);
  if (object !== undefined) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(object)) throw bad(`${m}: object must be base64`);
    out.object = object;
  }
  const objectName = optString(p, 'objectName', m, 255);
  if (objectName !== undefined) out.objectName = objectName;
  const mountpoint = optString(p, 'mountpoint', m);
  if (mountpoint !== undefined) {
    if (!mountpoint.startsWith('/')) throw bad(`${m}: mountpoint must be an absolute path`);
    out.mountpoint = mountpoint;
  }
  if (p.extraEndpoints !== undefined) {
    if (!Array.isArray(p.extraEndpoints) || p.extraEndpoints.length > 64) {
      throw bad(`${m}: extraEndpoints must be an array of at most 64 {host, port}`);
    }
    out.extraEndpoints = p.extraEndpoints.map((e, i) => endpoint(e, `${m}: extraEndpoints[${i}]`));
  }
  return out;
}

export function parseVerify(params: unknown): VerifyParams {
  const m = VerifyRequest.method;
  const p = asObject(params, m);
  onlyKnown(p, m, ['object', 'objectName', 'logLevel']);
  const object = optString(p, 'object', m, Math.ceil((MAX_OBJECT_BYTES * 4) / 3) + 4);
  const objectName = optString(p, 'objectName', m, 255);
  if (object === undefined || objectName === undefined) throw bad(`${m}: object and objectName are required`);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(object)) throw bad(`${m}: object must be base64`);
  const out: VerifyParams = { object, objectName };
  if (p.logLevel !== undefined) {
    if (p.logLevel !== 1 && p.logLevel !== 2) throw bad(`${m}: logLevel must be 1 or 2`);
    out.logLevel = p.logLevel;
  }
  return out;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** base64 of exactly `bytes` bytes. */
function base64Of(v: unknown, bytes: number): v is string {
  return (
    typeof v === 'string' &&
    v.length === Math.ceil(bytes / 3) * 4 &&
    BASE64.test(v) &&
    Buffer.from(v, 'base64').length === bytes
  );
}

export function parseAgentUpdate(params: unknown): AgentUpdateParams {
  const m = AgentUpdateRequest.method;
  const p = asObject(params, m);
  onlyKnown(p, m, ['version', 'arch', 'build', 'files', 'signature']);
  const version = optString(p, 'version', m, 64);
  const arch = optString(p, 'arch', m, 32);
  if (version === undefined || arch === undefined) throw bad(`${m}: version and arch are required`);
  if (typeof p.build !== 'string' || p.build.length > 64)
    throw bad(`${m}: build must be a string of at most 64 characters`);
  if (!Array.isArray(p.files) || p.files.length === 0 || p.files.length > 256) {
    throw bad(`${m}: files must be an array of 1..256 {path, sha256, data}`);
  }
  let encoded = 0;
  const files = p.files.map((f: unknown, i) => {
    const where = `${m}: files[${i}]`;
    if (typeof f !== 'object' || f === null || Array.isArray(f)) throw bad(`${where} must be an object`);
    onlyKnown(f as Fields, where, ['path', 'sha256', 'data']);
    const { path, sha256, data } = f as Fields;
    if (typeof path !== 'string' || path.length === 0 || path.length > 200)
      throw bad(`${where}.path must be a short string`);
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256))
      throw bad(`${where}.sha256 must be 64 hex digits`);
    if (typeof data !== 'string' || !BASE64.test(data)) throw bad(`${where}.data must be base64`);
    encoded += data.length;
    return { path, sha256, data };
  });
  if ((encoded * 3) / 4 > MAX_BUNDLE_BYTES + 3 * files.length) {
    throw bad(`${m}: the bundle exceeds ${MAX_BUNDLE_BYTES >> 20} MiB`);
  }
  const out: AgentUpdateParams = { version, arch, build: p.build, files };
  if (p.signature !== undefined) {
    const sig = p.signature;
    if (typeof sig !== 'object' || sig === null || Array.isArray(sig)) {
      throw bad(`${m}: signature must be an object {publicKey, value}`);
    }
    onlyKnown(sig as Fields, `${m}: signature`, ['publicKey', 'value']);
    const { publicKey, value } = sig as Fields;
    if (!base64Of(publicKey, 32))
      throw bad(`${m}: signature.publicKey must be an Ed25519 public key (32 bytes, base64)`);
    if (!base64Of(value, 64)) throw bad(`${m}: signature.value must be an Ed25519 signature (64 bytes, base64)`);
    out.signature = { publicKey, value };
  }
  return out;
}

export function parseKernelBtf(params: unknown): KernelBtfParams {
  const m = KernelBtfRequest.method;
  const p = asObject(params, m);
  onlyKnown(p, m, ['digestOnly']);
  if (p.digestOnly === undefined) return {};
  if (typeof p.digestOnly !== 'boolean') throw bad(`${m}: digestOnly must be true or false`);
  return { digestOnly: p.digestOnly };
}

/** An integer in [min, max], or a BadRequest naming the field and its range. */
function optInteger(p: Fields, key: string, method: string, range: { min: number; max: number }): number | undefined {
  const v = p[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < range.min || v > range.max) {
    throw bad(`${method}: ${key} must be an integer in ${range.min}..${range.max}`);
  }
  return v;
}

export function parseProfileStart(params: unknown): ProfileStartParams {
  const m = ProfileStartRequest.method;
  const p = asObject(params, m);
  onlyKnown(p, m, ['mountpoint', 'stacks', 'slowRequestUs', 'stackSampleEvery', 'updateIntervalMs', 'maxDurationS']);
  const out: ProfileStartParams = {};
  const mountpoint = optString(p, 'mountpoint', m);
  if (mountpoint !== undefined) {
    if (!mountpoint.startsWith('/')) throw bad(`${m}: mountpoint must be an absolute path`);
    out.mountpoint = mountpoint;
  }
  if (p.stacks !== undefined) {
    if (typeof p.stacks !== 'boolean') throw bad(`${m}: stacks must be true or false`);
    out.stacks = p.stacks;
  }
  const slow = optInteger(p, 'slowRequestUs', m, PROFILE_LIMITS.slowRequestUs);
  if (slow !== undefined) out.slowRequestUs = slow;
  const every = optInteger(p, 'stackSampleEvery', m, PROFILE_LIMITS.stackSampleEvery);
  if (every !== undefined) out.stackSampleEvery = every;
  const interval = optInteger(p, 'updateIntervalMs', m, PROFILE_LIMITS.updateIntervalMs);
  if (interval !== undefined) out.updateIntervalMs = interval;
  const max = optInteger(p, 'maxDurationS', m, PROFILE_LIMITS.maxDurationS);
  if (max !== undefined) out.maxDurationS = max;
  return out;
}

export function parseProfileStop(params: unknown): ProfileStopParams {
  const m = ProfileStopRequest.method;
  const p = asObject(params, m);
  onlyKnown(p, m, ['profileId']);
  const profileId = optString(p, 'profileId', m, 64);
  if (profileId === undefined) throw bad(`${m}: profileId is required`);
  return { profileId };
}

function parseEmpty(params: unknown, method: string): Record<string, never> {
  onlyKnown(asObject(params, method), method, []);
  return {};
}

interface ErrorObject {
  code: number;
  message: string;
  data?: ErrorData;
}

function toErrorObject(err: unknown, log: AgentLog, method: string, opId: number): ErrorObject {
  if (err instanceof AgentError) {
    log.warn('rpc', `${method} failed: ${err.message}`, opId);
    return { code: err.code, message: err.message, data: err.toData() };
  }
  const message = err instanceof Error ? err.message : String(err);
  log.error('rpc', `${method} failed unexpectedly: ${err instanceof Error ? (err.stack ?? message) : message}`, opId);
  return {
    code: ErrorCode.Internal,
    message: `internal agent error: ${message}`,
    data: { code: ErrorCode.Internal, message },
  };
}

/** The agent's side of one connection: closes once, after a framing error or when the input ends. */
export interface AgentConnection {
  onClose(listener: (why: string) => void): void;
}

/** Answers that may be pending at once before the reader stops taking requests. */
const MAX_IN_FLIGHT = 16;
/** How long a framing error's answer may take to leave before the connection closes anyway. */
const FATAL_FLUSH_MS = 2000;

type Handler = (params: unknown, opId: number) => unknown;

/** A typed route: `parse` checks the wire params into P, `run` must answer the spec's R. */
function route<P, R>(
  spec: RequestSpec<P, R>,
  parse: (raw: unknown) => P,
  run: (params: P, opId: number) => R | Promise<R>,
): [string, Handler] {
  return [spec.method, (raw, opId) => run(parse(raw), opId)];
}

/**
 * Serve the manager over (reader, writer) until the input ends or a framing error: requests
 * are dispatched by method, every answer (result, coded error, invalid input) is written by
 * `writer`, and the manager's log is forwarded as `agent/log` notifications.
 */
export function serve(reader: FrameReader, writer: MessageWriter, manager: Manager, log: AgentLog): AgentConnection {
  // Each route is typed by its RequestSpec: the parser yields the spec's params and the
  // manager must return the spec's result, so the wire shapes in protocol/ cannot drift.
  const handlers = new Map<string, Handler>([
    route(InitializeRequest, parseInitialize, (p) => manager.initialize(p)),
    route(AgentUpdateRequest, parseAgentUpdate, (p) => manager.update(p)),
    route(VerifyRequest, parseVerify, (p, op) => manager.verify(p, op)),
    route(KernelBtfRequest, parseKernelBtf, (p) => manager.kernelBtf(p)),
    route(BypassAttachRequest, parseBypassAttach, (p, op) => manager.attachBypass(p, op)),
    route(
      BypassDetachRequest,
      (p) => parseEmpty(p, BypassDetachRequest.method),
      (_p, op) => manager.detachBypass(op),
    ),
    route(
      BypassStatusRequest,
      (p) => parseEmpty(p, BypassStatusRequest.method),
      () => manager.bypassStatus(),
    ),
    route(ProfileStartRequest, parseProfileStart, (p, op) => manager.startProfile(p, op)),
    route(ProfileStopRequest, parseProfileStop, (p, op) => manager.stopProfile(p, op)),
  ]);
  const closeListeners: ((why: string) => void)[] = [];
  let closedWhy: string | undefined;
  let nextOp = 1;
  let inFlight = 0;

  const close = (why: string): void => {
    if (closedWhy !== undefined) return;
    closedWhy = why;
    reader.dispose();
    log.forwardTo(undefined);
    for (const l of closeListeners.splice(0)) l(why);
  };
  // A write fails only when the client is gone; main.ts hears that from stdout itself.
  const send = (msg: Message): Promise<void> => writer.write(msg).catch(() => undefined);
  const sendError = (id: RequestId | null, error: ErrorObject): Promise<void> =>
    send({ jsonrpc: '2.0', id, error } as ResponseMessage);

  /** Count an answer until it has left, pausing the reader while too many are pending. */
  const track = (answer: Promise<void>): void => {
    if (++inFlight >= MAX_IN_FLIGHT) reader.pause();
    void answer.finally(() => {
      if (--inFlight < MAX_IN_FLIGHT) reader.resume();
    });
  };

  const answer = async (id: RequestId, method: string, params: unknown): Promise<void> => {
    const opId = nextOp++;
    const handler = handlers.get(method);
    if (!handler) {
      log.warn('rpc', `unknown method ${JSON.stringify(method)}`, opId);
      return sendError(id, { code: ErrorCodes.MethodNotFound, message: `unknown method ${JSON.stringify(method)}` });
    }
    let result: unknown;
    try {
      result = await handler(params, opId);
    } catch (err) {
      return sendError(id, toErrorObject(err, log, method, opId));
    }
    return send({ jsonrpc: '2.0', id, result: result ?? null } as ResponseMessage);
  };

  reader.listen(
    (m) => {
      switch (m.kind) {
        case 'request':
          track(answer(m.id, m.method, m.params));
          return;
        case 'notification':
          // Nothing the agent does can be cancelled or configured by a notification: ignore it.
          return;
        case 'invalid':
          log.warn('rpc', m.message);
          track(sendError(m.id, { code: m.code, message: m.message }));
          return;
        case 'fatal': {
          const message = `${m.message}; the agent closes the connection: the stream cannot be trusted after a framing error`;
          log.warn('rpc', message);
          const flushed = sendError(null, { code: JSONRPC_PARSE_ERROR, message });
          // Not unref'd: the process must stay until close() has run the owner's cleanup.
          const bound = new Promise<void>((r) => setTimeout(r, FATAL_FLUSH_MS));
          void Promise.race([flushed, bound]).then(() => close(m.message));
          return;
        }
      }
    },
    (why) => close(why),
  );
  log.forwardTo(
    (entry) => void send({ jsonrpc: '2.0', method: LogNotification.method, params: entry } as NotificationMessage),
  );
  manager.onProfileUpdate(
    (u) => void send({ jsonrpc: '2.0', method: ProfileUpdateNotification.method, params: u } as NotificationMessage),
  );
  return {
    onClose: (listener) => {
      if (closedWhy !== undefined) listener(closedWhy);
      else closeListeners.push(listener);
    },
  };
}
