/**
 * The agent's parameter checks: every request's wire params converted into its typed params
 * or refused with a BadRequest naming the field. server.ts routes each method through one of
 * these before the manager sees anything; nothing here has side effects.
 */

import { isIPv4 } from 'node:net';
import {
  AgentUpdateRequest,
  BypassAttachRequest,
  ErrorCode,
  InitializeRequest,
  KERNEL_HELPERS_LIMITS,
  KERNEL_TARGETS_LIMITS,
  KernelBtfRequest,
  KernelHelpersRequest,
  KernelKfuncsRequest,
  KERNEL_KFUNCS_LIMITS,
  KFUNC_NAME,
  KernelTargetsRequest,
  LinkDetachRequest,
  MAP_PAGE_MAX,
  MapBtfRequest,
  MapDeleteRequest,
  MapDescribeRequest,
  MapReadRequest,
  MapUpdateRequest,
  NodeObjectsRequest,
  PROFILE_LIMITS,
  ProfileStartRequest,
  ProfileStopRequest,
  SocketsByCookieRequest,
  VerifyRequest,
  type AgentUpdateParams,
  type BypassAttachParams,
  type Endpoint,
  type InitializeParams,
  type KernelBtfParams,
  type KernelHelpersParams,
  type KernelKfuncsParams,
  type KernelTargetsParams,
  type MapDeleteParams,
  type MapReadParams,
  type MapRef,
  type MapUpdateParams,
  type NodeObjectsParams,
  type ProfileStartParams,
  type ProfileStopParams,
  type VerifyParams,
  SOCKETS_BY_COOKIE_MAX,
  TRACEPOINT_NAME,
} from '@dfs/protocol';
import { AgentError } from './errors';
import { MAX_INSPECT_BYTES, MAX_STATS_HOLD_S } from './inspect/limits';
import { MAX_BUNDLE_BYTES } from './update';

/** Largest object the agent accepts (decoded); BPF objects are kilobytes, 16 MiB is generous. */
const MAX_OBJECT_BYTES = 16 << 20;

type Fields = Record<string, unknown>;

export function bad(msg: string): AgentError {
  return new AgentError(ErrorCode.BadRequest, msg);
}

export function asObject(params: unknown, method: string): Fields {
  if (params === undefined || params === null) return {};
  if (typeof params !== 'object' || Array.isArray(params)) throw bad(`${method}: params must be an object`);
  return params as Fields;
}

export function onlyKnown(p: Fields, method: string, known: string[]): void {
  const unknown = Object.keys(p).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw bad(`${method}: unknown field ${unknown.join(', ')}`);
}

export function optString(p: Fields, key: string, method: string, max = 4096): string | undefined {
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

export const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** base64 of exactly `bytes` bytes. */
export function base64Of(v: unknown, bytes: number): v is string {
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

/** `p.progTypes`: at most `most` libbpf program type names (kernel/helpers, kernel/kfuncs). */
function progTypeNames(p: Fields, m: string, most: number): string[] {
  const types = p.progTypes;
  if (!Array.isArray(types) || types.length > most) {
    throw bad(`${m}: progTypes must be an array of at most ${most} program type names`);
  }
  types.forEach((t, i) => {
    if (typeof t !== 'string' || t.length === 0 || t.length > 64) {
      throw bad(`${m}: progTypes[${i}] must be a program type name of 1..64 characters`);
    }
  });
  return types as string[];
}

export function parseKernelHelpers(params: unknown): KernelHelpersParams {
  const m = KernelHelpersRequest.method;
  const p = asObject(params, m);
  onlyKnown(p, m, ['progTypes', 'maxHelperId']);
  const { progTypes: most, maxHelperId: maxId } = KERNEL_HELPERS_LIMITS;
  const types = progTypeNames(p, m, most);
  const maxHelperId = optInteger(p, 'maxHelperId', m, { min: 1, max: maxId });
  if (maxHelperId === undefined) throw bad(`${m}: maxHelperId is required (an integer in 1..${maxId})`);
  return { progTypes: types, maxHelperId };
}

export function parseKernelKfuncs(params: unknown): KernelKfuncsParams {
  const m = KernelKfuncsRequest.method;
  const p = asObject(params, m);
  onlyKnown(p, m, ['progTypes', 'names']);
  const { progTypes: most, names: mostNames, nameBytes } = KERNEL_KFUNCS_LIMITS;
  const types = progTypeNames(p, m, most);
  const names = p.names;
  if (!Array.isArray(names) || names.length > mostNames) {
    throw bad(`${m}: names must be an array of at most ${mostNames} kfunc names`);
  }
  names.forEach((n, i) => {
    if (typeof n !== 'string' || n.length > nameBytes || !KFUNC_NAME.test(n)) {
      throw bad(`${m}: names[${i}] must be a C identifier of at most ${nameBytes} characters`);
    }
  });
  return { progTypes: types, names: names as string[] };
}

/** `p[key]` as an array of at most KERNEL_TARGETS_LIMITS.entries, or undefined when absent. */
function targetList(p: Fields, key: string, m: string): unknown[] | undefined {
  const v = p[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length > KERNEL_TARGETS_LIMITS.entries) {
    throw bad(`${m}: ${key} must be an array of at most ${KERNEL_TARGETS_LIMITS.entries} entries`);
  }
  return v as unknown[];
}

function targetString(v: unknown, where: string): string {
  const most = KERNEL_TARGETS_LIMITS.stringBytes;
  if (typeof v !== 'string' || v.length === 0 || Buffer.byteLength(v) > most || v.includes('\0')) {
    throw bad(`${where} must be a non-empty string of at most ${most} bytes without NUL`);
  }
  return v;
}

export function parseKernelTargets(params: unknown): KernelTargetsParams {
  const m = KernelTargetsRequest.method;
  const p = asObject(params, m);
  onlyKnown(p, m, ['tracepoints', 'uprobes']);
  const out: KernelTargetsParams = {};
  const tracepoints = targetList(p, 'tracepoints', m);
  if (tracepoints) {
    out.tracepoints = tracepoints.map((t, i) => {
      const where = `${m}: tracepoints[${i}]`;
      const name = targetString(t, where);
      // "." and ".." match the pattern but would walk out of tracefs's events directory.
      if (!TRACEPOINT_NAME.test(name) || name.split('/').some((part) => part === '.' || part === '..')) {
        throw bad(`${where} must be "category/name" (letters, digits, _ . -), e.g. "syscalls/sys_enter_read"`);
      }
      return name;
    });
  }
  const uprobes = targetList(p, 'uprobes', m);
  if (uprobes) {
    out.uprobes = uprobes.map((u, i) => {
      const where = `${m}: uprobes[${i}]`;
      if (typeof u !== 'object' || u === null || Array.isArray(u))
        throw bad(`${where} must be an object {binary, symbol}`);
      onlyKnown(u as Fields, where, ['binary', 'symbol']);
      const binary = targetString((u as Fields).binary, `${where}.binary`);
      if (!binary.startsWith('/')) throw bad(`${where}.binary must be an absolute path`);
      return { binary, symbol: targetString((u as Fields).symbol, `${where}.symbol`) };
    });
  }
  return out;
}

/** An integer in [min, max], or a BadRequest naming the field and its range. */
export function optInteger(
  p: Fields,
  key: string,
  method: string,
  range: { min: number; max: number },
): number | undefined {
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

export function parseEmpty(params: unknown, method: string): Record<string, never> {
  onlyKnown(asObject(params, method), method, []);
  return {};
}

// ---------------------------------------------------------------------------------------------
// The node explorer and map inspector (inspect/)

const U32 = { min: 0, max: 0xffffffff };

function mapId(p: Fields, m: string): number {
  const id = optInteger(p, 'id', m, { min: 1, max: U32.max });
  if (id === undefined) throw bad(`${m}: id is required`);
  return id;
}

/** base64 of at most MAX_INSPECT_BYTES bytes (a key or a value; the agent checks the map's sizes). */
function bytesField(p: Fields, key: string, m: string, required: boolean): string | undefined {
  const v = p[key];
  if (v === undefined) {
    if (required) throw bad(`${m}: ${key} is required (base64)`);
    return undefined;
  }
  if (
    typeof v !== 'string' ||
    v.length > Math.ceil(MAX_INSPECT_BYTES / 3) * 4 ||
    !BASE64.test(v) ||
    v.length % 4 !== 0
  ) {
    throw bad(`${m}: ${key} must be base64 of at most ${MAX_INSPECT_BYTES} bytes`);
  }
  return v;
}

function optBool(p: Fields, key: string, m: string): boolean | undefined {
  const v = p[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw bad(`${m}: ${key} must be true or false`);
  return v;
}

export function parseNodeObjects(params: unknown): NodeObjectsParams {
  const m = NodeObjectsRequest.method;
  const p = asObject(params, m);
  onlyKnown(p, m, ['holdStatsS']);
  const hold = optInteger(p, 'holdStatsS', m, { min: 0, max: MAX_STATS_HOLD_S });
  return hold === undefined ? {} : { holdStatsS: hold };
}

export function parseMapRef(params: unknown, method: string): MapRef {
  const p = asObject(params, method);
  onlyKnown(p, method, ['id']);
  return { id: mapId(p, method) };
}

export const parseMapBtf = (params: unknown): MapRef => parseMapRef(params, MapBtfRequest.method);
export const parseMapDescribe = (params: unknown): MapRef => parseMapRef(params, MapDescribeRequest.method);
export const parseLinkDetach = (params: unknown): MapRef => parseMapRef(params, LinkDetachRequest.method);

export function parseMapRead(params: unknown): MapReadParams {
  const m = MapReadRequest.method;
  const p = asObject(params, m);
  onlyKnown(p, m, ['id', 'cursor', 'max']);
  const out: MapReadParams = { id: mapId(p, m) };
  const cursor = bytesField(p, 'cursor', m, false);
  if (cursor !== undefined) out.cursor = cursor;
  const max = optInteger(p, 'max', m, { min: 1, max: MAP_PAGE_MAX });
  if (max !== undefined) out.max = max;
  return out;
}

export function parseMapUpdate(params: unknown): MapUpdateParams {
  const m = MapUpdateRequest.method;
  const p = asObject(params, m);
  onlyKnown(p, m, ['id', 'key', 'value', 'mode', 'confirmedNotOurs']);
  const out: MapUpdateParams = {
    id: mapId(p, m),
    key: bytesField(p, 'key', m, true) ?? '',
    value: bytesField(p, 'value', m, true) ?? '',
  };
  if (p.mode !== undefined) {
    if (p.mode !== 'any' && p.mode !== 'noexist' && p.mode !== 'exist')
      throw bad(`${m}: mode must be any, noexist or exist`);
    out.mode = p.mode;
  }
  const confirmed = optBool(p, 'confirmedNotOurs', m);
  if (confirmed !== undefined) out.confirmedNotOurs = confirmed;
  return out;
}

export function parseMapDelete(params: unknown): MapDeleteParams {
  const m = MapDeleteRequest.method;
  const p = asObject(params, m);
  onlyKnown(p, m, ['id', 'key', 'confirmedNotOurs']);
  const out: MapDeleteParams = { id: mapId(p, m), key: bytesField(p, 'key', m, true) ?? '' };
  const confirmed = optBool(p, 'confirmedNotOurs', m);
  if (confirmed !== undefined) out.confirmedNotOurs = confirmed;
  return out;
}

/** Cookies looked up at once (a page of a sockhash). */

export function parseSocketsByCookie(params: unknown): { cookies: string[] } {
  const m = SocketsByCookieRequest.method;
  const p = asObject(params, m);
  onlyKnown(p, m, ['cookies']);
  const c = p.cookies;
  if (!Array.isArray(c) || c.length > SOCKETS_BY_COOKIE_MAX)
    throw bad(`${m}: cookies must be an array of at most ${SOCKETS_BY_COOKIE_MAX}`);
  c.forEach((v, i) => {
    if (typeof v !== 'string' || !/^\d{1,20}$/.test(v) || BigInt(v) > 0xffffffffffffffffn) {
      throw bad(`${m}: cookies[${i}] must be a decimal 64-bit socket cookie`);
    }
  });
  return { cookies: c as string[] };
}
