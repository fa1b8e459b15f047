/**
 * The agent's JSON-RPC surface: converts and validates wire input, calls the manager, and
 * turns every failure into a coded JSON-RPC error. Nothing here holds state. Bad input is
 * answered, never fatal: unparsable JSON gets a -32700 response, unknown methods -32601,
 * wrong fields a BadRequest naming the field; the connection keeps serving.
 */

import { isIPv4 } from 'node:net';
import {
  createMessageConnection,
  ErrorCodes,
  ResponseError,
  type MessageConnection,
  type MessageReader,
  type MessageWriter,
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
  VerifyRequest,
  type AgentUpdateParams,
  type BypassAttachParams,
  type Endpoint,
  type InitializeParams,
  type KernelBtfParams,
  type VerifyParams,
} from '@dfs/protocol';
import { AgentError } from './errors';
import type { AgentLog } from './log';
import type { Manager } from './manager';

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

export function parseAgentUpdate(params: unknown): AgentUpdateParams {
  const m = AgentUpdateRequest.method;
  const p = asObject(params, m);
  onlyKnown(p, m, ['version', 'arch', 'files']);
  const version = optString(p, 'version', m, 64);
  const arch = optString(p, 'arch', m, 32);
  if (version === undefined || arch === undefined) throw bad(`${m}: version and arch are required`);
  if (!Array.isArray(p.files) || p.files.length === 0 || p.files.length > 256) {
    throw bad(`${m}: files must be an array of 1..256 {path, sha256, data}`);
  }
  const files = p.files.map((f: unknown, i) => {
    const where = `${m}: files[${i}]`;
    if (typeof f !== 'object' || f === null) throw bad(`${where} must be an object`);
    const { path, sha256, data } = f as Fields;
    if (typeof path !== 'string' || path.length === 0 || path.length > 200)
      throw bad(`${where}.path must be a short string`);
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256))
      throw bad(`${where}.sha256 must be 64 hex digits`);
    if (typeof data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(data)) throw bad(`${where}.data must be base64`);
    return { path, sha256, data };
  });
  return { version, arch, files };
}

export function parseKernelBtf(params: unknown): KernelBtfParams {
  const m = KernelBtfRequest.method;
  const p = asObject(params, m);
  onlyKnown(p, m, ['digestOnly']);
  if (p.digestOnly === undefined) return {};
  if (typeof p.digestOnly !== 'boolean') throw bad(`${m}: digestOnly must be true or false`);
  return { digestOnly: p.digestOnly };
}

function parseEmpty(params: unknown, method: string): Record<string, never> {
  onlyKnown(asObject(params, method), method, []);
  return {};
}

function toResponseError(err: unknown, log: AgentLog, method: string, opId: number): ResponseError<unknown> {
  if (err instanceof AgentError) {
    log.warn('rpc', `${method} failed: ${err.message}`, opId);
    return new ResponseError(err.code, err.message, err.toData());
  }
  const message = err instanceof Error ? err.message : String(err);
  log.error('rpc', `${method} failed unexpectedly: ${err instanceof Error ? (err.stack ?? message) : message}`, opId);
  return new ResponseError(ErrorCode.Internal, `internal agent error: ${message}`, {
    code: ErrorCode.Internal,
    message,
  });
}

/** Wire the manager to a JSON-RPC connection over (reader, writer) and start listening. */
export function serve(
  reader: MessageReader,
  writer: MessageWriter,
  manager: Manager,
  log: AgentLog,
): MessageConnection {
  const conn = createMessageConnection(reader, writer);
  let nextOp = 1;

  function handle<P, R>(method: string, parse: (p: unknown) => P, run: (p: P, opId: number) => R | Promise<R>): void {
    conn.onRequest(method, async (raw: unknown) => {
      const opId = nextOp++;
      try {
        return await run(parse(raw), opId);
      } catch (err) {
        return toResponseError(err, log, method, opId);
      }
    });
  }

  handle(InitializeRequest.method, parseInitialize, (p) => manager.initialize(p));
  handle(AgentUpdateRequest.method, parseAgentUpdate, (p) => manager.update(p));
  handle(VerifyRequest.method, parseVerify, (p, op) => manager.verify(p, op));
  handle(KernelBtfRequest.method, parseKernelBtf, (p) => manager.kernelBtf(p));
  handle(BypassAttachRequest.method, parseBypassAttach, (p, op) => manager.attachBypass(p, op));
  handle(
    BypassDetachRequest.method,
    (p) => parseEmpty(p, BypassDetachRequest.method),
    (_p, op) => manager.detachBypass(op),
  );
  handle(
    BypassStatusRequest.method,
    (p) => parseEmpty(p, BypassStatusRequest.method),
    () => manager.bypassStatus(),
  );

  // A body that is not JSON never reaches a handler: answer it as JSON-RPC says (id null).
  reader.onError((err) => {
    log.warn('rpc', `unreadable message: ${err.message}`);
    const reply: ResponseMessage = {
      jsonrpc: '2.0',
      id: null,
      error: { code: ErrorCodes.ParseError, message: `parse error: ${err.message}` },
    };
    void writer.write(reply).catch(() => undefined);
  });

  log.forwardTo((entry) => void conn.sendNotification(LogNotification.method, entry).catch(() => undefined));
  conn.listen();
  return conn;
}
