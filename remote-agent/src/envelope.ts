/**
 * What a complete frame body is: a JSON-RPC 2.0 request, a notification, or something to
 * answer with -32700 (not UTF-8, not JSON) or -32600 (too deep, not an object, a batch, a bad
 * id, method, params or jsonrpc member, an unknown member), with id null when the id itself
 * is unusable. Pure: no I/O, no state; framing.ts calls it once per frame.
 */

/** Our deepest legitimate message nests 4 levels (envelope, params, files, file). */
export const MAX_JSON_DEPTH = 64;
const MAX_ID_LENGTH = 256;
const MAX_METHOD_LENGTH = 256;

/** JSON-RPC 2.0 codes the reader answers with. */
export const JSONRPC_PARSE_ERROR = -32700;
export const JSONRPC_INVALID_REQUEST = -32600;

export type RequestId = number | string;

export type Inbound =
  | { kind: 'request'; id: RequestId; method: string; params: unknown }
  | { kind: 'notification'; method: string; params: unknown }
  /** Answer with this error (id null when the id itself was unusable) and keep reading. */
  | { kind: 'invalid'; id: RequestId | null; code: number; message: string }
  /** Answer once with id null, then close: the stream cannot be trusted any more. */
  | { kind: 'fatal'; message: string };

function quote(s: string, max = 40): string {
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);
}

/** Deepest nesting of arrays and objects in a JSON text (strings skipped), stopping past `limit`. */
export function jsonDepth(body: Uint8Array, limit: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const b = body[i];
    if (inString) {
      if (b === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) {
      inString = true;
    } else if (b === 0x5b || b === 0x7b) {
      if (++depth > max) max = depth;
      if (max > limit) return max;
    } else if (b === 0x5d || b === 0x7d) {
      depth--;
    }
  }
  return max;
}

const isId = (v: unknown): v is RequestId =>
  (typeof v === 'string' && v.length <= MAX_ID_LENGTH) || (typeof v === 'number' && Number.isSafeInteger(v));

const MEMBERS = ['jsonrpc', 'id', 'method', 'params'];

/** Classify a parsed JSON value as a JSON-RPC 2.0 request or notification, or say why not. */
export function checkEnvelope(value: unknown): Inbound {
  const invalid = (id: RequestId | null, message: string): Inbound => ({
    kind: 'invalid',
    id,
    code: JSONRPC_INVALID_REQUEST,
    message: `invalid request: ${message}`,
  });
  if (Array.isArray(value)) return invalid(null, 'batches (JSON arrays) are not supported; send one request per frame');
  if (typeof value !== 'object' || value === null) return invalid(null, 'a JSON-RPC message must be a JSON object');
  const o = value as Record<string, unknown>;
  const hasId = Object.prototype.hasOwnProperty.call(o, 'id');
  if (hasId && !isId(o.id)) {
    return invalid(
      null,
      `id must be a string of at most ${MAX_ID_LENGTH} characters or an integer, not ${idKind(o.id)}`,
    );
  }
  const id = hasId ? (o.id as RequestId) : null;
  if (o.jsonrpc !== '2.0') return invalid(id, 'jsonrpc must be "2.0"');
  if (typeof o.method !== 'string' || o.method.length === 0 || o.method.length > MAX_METHOD_LENGTH) {
    return invalid(
      id,
      o.method === undefined
        ? 'method is missing (the agent accepts requests and notifications only)'
        : `method must be a non-empty string of at most ${MAX_METHOD_LENGTH} characters`,
    );
  }
  const hasParams = Object.prototype.hasOwnProperty.call(o, 'params');
  if (hasParams && (typeof o.params !== 'object' || o.params === null)) {
    return invalid(id, 'params, when present, must be an object or an array');
  }
  const unknown = Object.keys(o).filter((k) => !MEMBERS.includes(k));
  if (unknown.length > 0) {
    return invalid(
      id,
      `unknown member ${unknown
        .slice(0, 5)
        .map((k) => quote(k))
        .join(', ')}`,
    );
  }
  if (!hasId) return { kind: 'notification', method: o.method, params: o.params };
  return { kind: 'request', id: o.id as RequestId, method: o.method, params: o.params };
}

function idKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return Number.isFinite(v) ? `the number ${v}` : 'a non-finite number';
  if (typeof v === 'string') return `a string of ${v.length} characters`;
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** Turn one complete frame body into what it is. */
export function classifyBody(body: Uint8Array): Inbound {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return {
      kind: 'invalid',
      id: null,
      code: JSONRPC_PARSE_ERROR,
      message: 'parse error: the body is not valid UTF-8',
    };
  }
  if (jsonDepth(body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    return {
      kind: 'invalid',
      id: null,
      code: JSONRPC_INVALID_REQUEST,
      message: `invalid request: JSON nested deeper than ${MAX_JSON_DEPTH} levels`,
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { kind: 'invalid', id: null, code: JSONRPC_PARSE_ERROR, message: `parse error: ${why.slice(0, 200)}` };
  }
  return checkEnvelope(value);
}
