// The fuzzer's inputs (used by agentFuzz.ts): a seeded PRNG, generators of stream inputs
// (valid and mutated requests, random JSON, flipped bytes, notifications, bursts, split
// writes) and framing inputs (broken headers, random bytes, truncated frames), and the oracle
// that says how many answers a frame must get under JSON-RPC 2.0 with the agent's documented
// limits (UTF-8, depth 64, method 256 characters, known members). Pure: no I/O.
import { frame } from './agentProcess';

// ---------------------------------------------------------------------------------------------
// Randomness

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  next(): number {
    // mulberry32
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

const STRINGS = [
  '',
  ' ',
  '../../../etc/passwd',
  '/',
  '/mnt/x',
  '\u0000',
  'agent.js',
  'bpf/bypass.bpf.o',
  '__proto__',
  'constructor',
  '%s%n%x',
  '$(id)',
  '`id`',
  '; rm -rf /',
  'ü✓\ud83d\ude00',
  '\ud800',
  'x64',
  '2.0',
  '10.0.0.1',
  '::1',
  'QUJD',
  '=',
  'A'.repeat(257),
];
const NUMBERS = [0, -1, 1, 1.5, -0, 2 ** 31, 2 ** 53, 2 ** 64, -(2 ** 63), 1e308, 5e-324, 65535, 65536, 999];
const METHODS = [
  'agent/initialize',
  'agent/update',
  'bpf/verify',
  'kernel/btf',
  'kernel/helpers',
  'kernel/kfuncs',
  'kernel/targets',
  'bypass/attach',
  'bypass/detach',
  'bypass/status',
  'profile/start',
  'profile/stop',
];

/** Bytes of large strings and arrays an input may still hold (reset per input): keeps inputs bounded. */
let bulk = 0;
const BULK_PER_INPUT = 4_000_000;

function large(r: Rng, max: number): number {
  const n = Math.min(max, bulk);
  bulk -= n;
  return n > 0 ? r.int(n) : 0;
}

function randomString(r: Rng): string {
  if (r.chance(0.4)) return r.pick(STRINGS);
  const n = r.chance(0.02) ? large(r, r.chance(0.05) ? 2_000_000 : 200_000) : r.int(40);
  if (r.chance(0.5)) return 'x'.repeat(n);
  let s = '';
  for (let i = 0; i < Math.min(n, 200); i++) s += String.fromCharCode(r.chance(0.9) ? 32 + r.int(95) : r.int(0x10000));
  return s;
}

/**
 * Set an own, enumerable property, whatever its name: a plain assignment of "__proto__" would
 * change the prototype instead, which JSON never does.
 */
function put(o: object, key: string | number, value: unknown): void {
  try {
    Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  } catch {
    // Not definable (an array's length): leave it.
  }
}

function randomValue(r: Rng, depth = 3): unknown {
  switch (r.int(depth > 0 ? 9 : 6)) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return r.pick(NUMBERS);
    case 3:
      return r.int(1000) - 500;
    case 4:
    case 5:
      return randomString(r);
    case 6:
      if (r.chance(0.02)) return Array.from({ length: large(r, 20_000) }, () => r.int(10));
      return Array.from({ length: r.int(5) }, () => randomValue(r, depth - 1));
    case 7: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(5); i > 0; i--)
        put(o, r.chance(0.5) ? r.pick(STRINGS) : randomString(r), randomValue(r, depth - 1));
      return o;
    }
    default: {
      // Nested junk, sometimes past the agent's depth limit.
      let v: unknown = randomValue(r, 0);
      for (let i = r.int(90); i > 0; i--) v = r.chance(0.5) ? [v] : { k: v };
      return v;
    }
  }
}

const b64 = (n: number, r: Rng): string => r.bytes(n).toString('base64');

/** A well-formed request for each method (it may still fail on this node, e.g. no JuiceFS). */
function validParams(method: string, r: Rng): unknown {
  switch (method) {
    case 'agent/initialize':
      return { client: 'fuzz', protocolVersion: 1 };
    case 'bypass/attach':
      return {
        objectName: 'b.bpf.o',
        mountpoint: '/mnt/x',
        extraEndpoints: [{ host: '10.0.0.1', port: 9000 }],
        pin: false,
      };
    case 'bpf/verify': {
      // Random bytes never start like an ELF file: damaged objects are the child-process loader's fuzz.
      const obj = r.bytes(r.int(2048));
      if (obj[0] === 0x7f) obj[0] = 0;
      return { object: obj.toString('base64'), objectName: 'x.bpf.o', logLevel: r.chance(0.5) ? 1 : 2 };
    }
    case 'profile/start':
      // A mount that does not exist: the request is checked all the way, nothing is loaded.
      return { mountpoint: '/mnt/x', stacks: true, slowRequestUs: 1000, updateIntervalMs: 1000, maxDurationS: 5 };
    case 'profile/stop':
      return { profileId: randomString(r) };
    case 'kernel/helpers':
      return { progTypes: ['xdp', 'sk_msg'], maxHelperId: 1 + r.int(211) };
    case 'kernel/kfuncs':
      return { progTypes: ['xdp', 'tracing'], names: ['bpf_rcu_read_lock', 'bpf_dynptr_from_xdp'] };
    case 'kernel/targets':
      return {
        tracepoints: ['syscalls/sys_enter_read'],
        uprobes: [{ binary: '/bin/true', symbol: 'main' }],
      };
    case 'agent/update':
      return {
        version: '9.9.9',
        arch: process.arch,
        build: 'fuzz',
        files: [{ path: 'agent.js', sha256: 'a'.repeat(64), data: b64(12, r) }],
        signature: { publicKey: b64(32, r), value: b64(64, r) },
      };
    default:
      return {};
  }
}

type Json = Record<string, unknown> | unknown[];

/** Every container in a JSON tree, with its parent path, for a mutation to pick from. */
function containers(v: unknown, out: Json[] = [], depth = 0): Json[] {
  if (depth > 8 || typeof v !== 'object' || v === null) return out;
  out.push(v as Json);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) containers(o[k], out, depth + 1);
  return out;
}

function mutate(msg: Record<string, unknown>, r: Rng): void {
  for (let n = 1 + r.int(3); n > 0; n--) {
    const target = r.pick(containers(msg));
    // Index loops, not map/splice: a mutation may have set an array's own "constructor".
    const keys: (string | number)[] = [];
    if (Array.isArray(target)) for (let i = 0; i < target.length; i++) keys.push(i);
    else keys.push(...Object.keys(target));
    const key: string | number =
      keys.length > 0 && r.chance(0.8) ? r.pick(keys) : r.chance(0.5) ? 'extra' : r.pick(STRINGS);
    const t = target as Record<string | number, unknown>;
    switch (r.int(6)) {
      case 0:
        if (Array.isArray(target) && typeof key === 'number') {
          target.copyWithin(key, key + 1);
          target.length = Math.max(0, target.length - 1);
        } else delete t[key];
        break;
      case 1:
      case 2:
        put(t, key, randomValue(r));
        break;
      case 3:
        put(
          t,
          key,
          r.chance(0.5)
            ? 'y'.repeat(large(r, r.chance(0.05) ? 3_000_000 : 300_000))
            : Array.from({ length: large(r, 50_000) }, () => 1),
        );
        break;
      case 4:
        msg.method = r.chance(0.5) ? randomString(r) : `${r.pick(METHODS)}${r.pick(['', '/', 'x', ' '])}`;
        break;
      default:
        msg.id = randomValue(r, 1);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The oracle: how many answers JSON-RPC 2.0 (with the agent's documented limits) asks for.

function isNotification(body: Buffer): boolean {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return false;
  }
  let depth = 0;
  let max = 0;
  let inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inStr) {
      if (c === '\\') i++;
      else if (c === '"') inStr = false;
    } else if (c === '"') inStr = true;
    else if (c === '[' || c === '{') max = Math.max(max, ++depth);
    else if (c === ']' || c === '}') depth--;
  }
  if (max > 64) return false;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return false;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  const params = o.params;
  return (
    !('id' in o) &&
    o.jsonrpc === '2.0' &&
    typeof o.method === 'string' &&
    o.method.length > 0 &&
    o.method.length <= 256 &&
    (!('params' in o) || (typeof params === 'object' && params !== null)) &&
    Object.keys(o).every((k) => ['jsonrpc', 'method', 'params'].includes(k))
  );
}

export interface Input {
  what: string;
  pieces: Buffer[];
  /** Exact number of answers (stream phase only); `miscounted` is counted per batch of inputs. */
  answers?: number;
}

function streamFrame(body: Buffer, what: string): Input {
  return { what, pieces: [frame(body)], answers: isNotification(body) ? 0 : 1 };
}

function split(bytes: Buffer, r: Rng): Buffer[] {
  const cuts = Array.from({ length: 1 + r.int(4) }, () => r.int(bytes.length + 1)).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  return out.filter((p) => p.length > 0);
}

let nextId = 1;

/**
 * Deterministic inputs run first: a valid request split at every byte boundary, byte by byte,
 * and the cases the issue reported (id {}, method 5, jsonrpc 1.0, a batch, bad UTF-8).
 */
export function fixedInputs(): Input[] {
  const one = frame(JSON.stringify({ jsonrpc: '2.0', id: 'split', method: 'bypass/status', params: {} }));
  const out: Input[] = [];
  for (let cut = 1; cut < one.length; cut++) {
    out.push({ what: `split at byte ${cut}`, pieces: [one.subarray(0, cut), one.subarray(cut)], answers: 1 });
  }
  out.push({ what: 'byte by byte', pieces: [...one].map((b) => Buffer.from([b])), answers: 1 });
  for (const body of [
    '{"jsonrpc":"2.0","id":{},"method":"bypass/status"}',
    '{"jsonrpc":"2.0","id":1,"method":5}',
    '{"jsonrpc":"1.0","id":1,"method":"bypass/status"}',
    '[{"jsonrpc":"2.0","id":1,"method":"bypass/status"}]',
    '{"jsonrpc":"2.0","method":"$/cancelRequest"}',
  ]) {
    out.push(streamFrame(Buffer.from(body), body));
  }
  out.push(streamFrame(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"\xff"}', 'latin1'), 'bad UTF-8'));
  return out;
}

export function streamInput(r: Rng, verifyObject: Buffer): Input {
  bulk = BULK_PER_INPUT;
  const method = r.pick(r.chance(0.002) ? METHODS : METHODS.filter((m) => m !== 'kernel/btf'));
  const msg: Record<string, unknown> = { jsonrpc: '2.0', id: nextId++, method, params: validParams(method, r) };
  if (method === 'bpf/verify' && r.chance(0.02))
    msg.params = { object: verifyObject.toString('base64'), objectName: 'bypass.bpf.o' };
  const kind = r.int(100);
  if (kind < 10) return streamFrame(Buffer.from(JSON.stringify(msg)), `valid ${method}`);
  if (kind < 60) {
    mutate(msg, r);
    return streamFrame(Buffer.from(JSON.stringify(msg)), `mutated ${method}`);
  }
  if (kind < 70) return streamFrame(Buffer.from(JSON.stringify(randomValue(r))), 'random JSON');
  if (kind < 80) {
    // Bytes changed inside a valid body: bad UTF-8, broken JSON, odd values.
    const body = Buffer.from(JSON.stringify(msg));
    for (let n = 1 + r.int(4); n > 0; n--)
      body[r.int(body.length)] = r.chance(0.5) ? r.int(256) : r.pick([0xc3, 0xff, 0x80, 0xed]);
    return streamFrame(body, `flipped bytes in ${method}`);
  }
  if (kind < 85) {
    const note = {
      jsonrpc: '2.0',
      method: r.chance(0.5) ? '$/cancelRequest' : randomString(r),
      params: randomValue(r),
    };
    return streamFrame(Buffer.from(JSON.stringify(note)), 'notification');
  }
  if (kind < 90) {
    // A pipelined burst in one write (the agent must apply backpressure and answer all).
    const n = 2 + r.int(r.chance(0.1) ? 100 : 10);
    const frames = Array.from({ length: n }, () =>
      Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: nextId++, method: 'bypass/status' })),
    );
    return { what: `burst of ${n}`, pieces: [Buffer.concat(frames.map((b) => frame(b)))], answers: n };
  }
  const one = streamFrame(Buffer.from(JSON.stringify(msg)), `split ${method}`);
  return { ...one, pieces: split(Buffer.concat(one.pieces), r) };
}

export function framingInput(r: Rng): Input {
  bulk = BULK_PER_INPUT;
  const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: nextId++, method: 'bypass/status', params: {} }));
  const header = `Content-Length: ${body.length}`;
  switch (r.int(9)) {
    case 0:
      return { what: 'random bytes', pieces: [r.bytes(1 + r.int(2000))] };
    case 1: {
      const len = r.pick([
        '',
        '-1',
        '1e3',
        '0x20',
        ' 12',
        '99999999999',
        String(body.length + r.int(40) - 20),
        'NaN',
        '١٢',
      ]);
      return {
        what: `Content-Length "${len}"`,
        pieces: [Buffer.concat([Buffer.from(`Content-Length: ${len}\r\n\r\n`), body])],
      };
    }
    case 2: {
      const extra = r.pick([
        'X-Foo: 1',
        'Content-Type: text/plain; charset=latin1',
        header,
        'content-type: a/b',
        ': x',
        'Content-Length',
        '\t',
      ]);
      return {
        what: `extra header ${JSON.stringify(extra)}`,
        pieces: [Buffer.from(`${header}\r\n${extra}\r\n\r\n${body.toString()}`)],
      };
    }
    case 3: {
      const raw = Buffer.from(`${header}\r\n\r\n`);
      for (let n = 1 + r.int(3); n > 0; n--) raw[r.int(raw.length)] = r.int(256);
      return { what: 'flipped header bytes', pieces: [Buffer.concat([raw, body])] };
    }
    case 4:
      return { what: 'header with LF only', pieces: [Buffer.from(`${header}\n\n${body.toString()}`)] };
    case 5: {
      const full = frame(body);
      return { what: 'truncated frame', pieces: [full.subarray(0, 1 + r.int(full.length - 1))] };
    }
    case 6:
      return { what: 'body without header', pieces: [body] };
    case 7: {
      const lines = Array.from({ length: 1 + r.int(5) }, () => randomString(r).slice(0, 80)).join('\r\n');
      return { what: 'random header lines', pieces: [Buffer.from(`${lines}\r\n\r\n`)] };
    }
    default:
      return { what: 'valid frame then garbage', pieces: [frame(body), r.bytes(1 + r.int(100))] };
  }
}
