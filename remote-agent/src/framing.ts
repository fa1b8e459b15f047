/**
 * The agent's reader of its JSON-RPC byte stream (stdin: the SSH channel). Owns the frame
 * state machine, the size caps and the partial-frame timeout, and hands every complete body to
 * envelope.ts, so that nothing malformed reaches a handler. It decides what each input is;
 * the server (server.ts) writes every answer. One reader per connection, for the life of the
 * process.
 *
 * A frame is what vscode-jsonrpc writes: ASCII header lines ending in CRLF, a blank line,
 * then exactly Content-Length bytes of UTF-8 JSON. Headers: `Content-Length` (required,
 * digits only, at most MAX_FRAME_BYTES) and `Content-Type` (optional; a charset, if given,
 * must be utf-8); names are case-insensitive; nothing else, no repeats, the whole header block
 * at most MAX_HEADER_BYTES. A header is judged as its bytes arrive: the first byte that
 * cannot belong to an accepted header fails it, without waiting for the end of the line.
 *
 * Two kinds of trouble, two outcomes:
 * - The frame is intact but its body is not a JSON-RPC request (envelope.ts decides: not
 *   UTF-8, not JSON, too deep, not an object, a batch, a bad id/method/params/jsonrpc, an
 *   unknown member): `invalid`, answered with -32700 or -32600, and the stream goes on (the
 *   next frame starts right after this one).
 * - The framing itself is wrong (a header this reader does not accept, a body over the cap,
 *   a frame that stops arriving for PARTIAL_FRAME_IDLE_MS): where the next frame starts is
 *   unknown, so nothing after it can be trusted. `fatal`: answered once (id null), then the
 *   reader stops and the connection closes. An oversized body is refused from its header,
 *   before any of it is read, so it is never buffered.
 *
 * Backpressure: the server pauses the reader while too many answers are pending; bytes of the
 * chunk being parsed wait here, the rest in the pipe. The idle clock does not run while paused.
 */

import type { Readable } from 'node:stream';
import { classifyBody, type Inbound } from './envelope';

export { JSONRPC_PARSE_ERROR, type Inbound, type RequestId } from './envelope';

/**
 * Largest frame body. It must hold a 16 MiB object in `bypass/attach` or `bpf/verify`
 * (22.4 MB of base64) and an `agent/update` bundle of MAX_BUNDLE_BYTES (32 MiB, 44.7 MB of
 * base64), with room for the JSON around them. The client's bundle is under 1 MiB today.
 */
export const MAX_FRAME_BYTES = 48 * 1024 * 1024;
/** The whole header block, blank line included (vscode-jsonrpc writes about 22 bytes). */
export const MAX_HEADER_BYTES = 1024;
/** A frame that has begun must keep arriving: no byte for this long ends the connection. */
export const PARTIAL_FRAME_IDLE_MS = 30_000;

export interface FrameReaderOptions {
  maxFrameBytes?: number;
  maxHeaderBytes?: number;
  idleMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Headers

const NAME_BYTE = /^[A-Za-z0-9-]$/;
const HEADER_LINE = /^([A-Za-z0-9-]+):[ \t]*(.*?)[ \t]*$/;
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const CONTENT_TYPE = new RegExp(`^${TOKEN}/${TOKEN}([ \\t]*;[ \\t]*charset[ \\t]*=[ \\t]*("?)utf-?8\\2)?$`, 'i');

function quote(s: string, max = 40): string {
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);
}

/**
 * Why a header line can no longer become an accepted one, or null. `line` holds the bytes
 * received so far of the current line (`complete`: the whole line, without its CRLF).
 */
export function partialHeaderProblem(line: Buffer, complete = false): string | null {
  // The last byte of an unfinished line may be the CR of its CRLF.
  const end = !complete && line[line.length - 1] === 0x0d ? line.length - 1 : line.length;
  const colon = line.subarray(0, end).indexOf(0x3a);
  const nameEnd = colon === -1 ? end : colon;
  for (let i = 0; i < nameEnd; i++) {
    const c = String.fromCharCode(line[i] ?? 0);
    if (!NAME_BYTE.test(c)) {
      const found = i === 0 && c === '{' ? '"{" (a JSON body without its Content-Length header?)' : quote(c);
      return `expected a header line (Content-Length: N), found ${found} at byte ${i} of the line`;
    }
  }
  if (colon === 0) return 'a header line must start with a header name';
  for (let i = colon + 1; colon !== -1 && i < end; i++) {
    const b = line[i] ?? 0;
    if (b !== 0x09 && (b < 0x20 || b > 0x7e)) {
      return `header values must be printable ASCII; found byte 0x${b.toString(16).padStart(2, '0')}`;
    }
  }
  return null;
}

/** Headers collected for the frame being read. */
interface HeaderState {
  contentLength?: number;
  contentType?: string;
}

/** Take one complete header line (without CRLF) into `h`; returns why it is refused, or null. */
export function takeHeaderLine(text: string, h: HeaderState, maxFrameBytes: number): string | null {
  const m = HEADER_LINE.exec(text);
  if (!m) return `malformed header line ${quote(text)}; expected "Name: value"`;
  const name = (m[1] ?? '').toLowerCase();
  const value = m[2] ?? '';
  if (name === 'content-length') {
    if (h.contentLength !== undefined) return 'Content-Length appears twice';
    if (!/^[0-9]+$/.test(value)) return `Content-Length must be digits only, got ${quote(value)}`;
    const n = value.replace(/^0+(?=.)/, '').length > 15 ? Infinity : Number(value);
    if (n > maxFrameBytes) {
      return `Content-Length ${value.length > 20 ? quote(value) : value} exceeds the agent's limit of ${maxFrameBytes} bytes`;
    }
    h.contentLength = n;
    return null;
  }
  if (name === 'content-type') {
    if (h.contentType !== undefined) return 'Content-Type appears twice';
    if (!CONTENT_TYPE.test(value)) {
      return `Content-Type must be a media type whose charset, if given, is utf-8; got ${quote(value)}`;
    }
    h.contentType = value;
    return null;
  }
  return `unknown header ${quote(m[1] ?? '')}: the agent accepts only Content-Length and Content-Type`;
}

// ---------------------------------------------------------------------------------------------
// The reader

export class FrameReader {
  private readonly maxFrame: number;
  private readonly maxHeader: number;
  private readonly idleMs: number;
  private state: 'header' | 'body' | 'closed' = 'header';
  /** Header bytes of this frame so far, and the current line. */
  private headerBytes = 0;
  private line: Buffer[] = [];
  private headers: HeaderState = {};
  private body: Buffer[] = [];
  private remaining = 0;
  private paused = false;
  /** Bytes already read from the input while paused, parsed on resume. */
  private leftover: Buffer | null = null;
  private lastByteAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private onInbound: (m: Inbound) => void = () => undefined;
  private readonly onData = (chunk: Buffer): void => {
    this.lastByteAt = Date.now();
    // A chunk the stream delivered after pause() waits behind the earlier ones, never over them.
    if (this.paused) {
      this.leftover = this.leftover ? Buffer.concat([this.leftover, chunk]) : chunk;
      this.input.pause();
      return;
    }
    this.process(chunk);
  };

  constructor(
    private readonly input: Readable,
    opts: FrameReaderOptions = {},
  ) {
    this.maxFrame = opts.maxFrameBytes ?? MAX_FRAME_BYTES;
    this.maxHeader = opts.maxHeaderBytes ?? MAX_HEADER_BYTES;
    this.idleMs = opts.idleMs ?? PARTIAL_FRAME_IDLE_MS;
  }

  /** Start reading: every input ends up in `onInbound`; `onEnd` when the input ends or fails. */
  listen(onInbound: (m: Inbound) => void, onEnd: (why: string) => void): void {
    this.onInbound = onInbound;
    this.input.on('data', this.onData);
    this.input.on('end', () => onEnd('input ended'));
    this.input.on('error', (err: Error) => onEnd(`input failed: ${err.message}`));
  }

  /** Stop delivering (the server has enough answers pending); bytes wait here or in the pipe. */
  pause(): void {
    this.paused = true;
    this.clearTimer();
  }

  resume(): void {
    if (!this.paused || this.state === 'closed') return;
    this.paused = false;
    const left = this.leftover;
    this.leftover = null;
    this.lastByteAt = Date.now();
    if (left) this.process(left);
    // process() may have paused again or closed: read the fields afresh.
    if (this.isReading()) {
      this.input.resume();
      this.armTimer();
    }
  }

  /** Stop for good (idempotent). */
  dispose(): void {
    this.state = 'closed';
    this.clearTimer();
    this.leftover = null;
    this.body = [];
    this.input.off('data', this.onData);
    this.input.pause();
  }

  private isReading(): boolean {
    return !this.paused && this.state !== 'closed';
  }

  private get midFrame(): boolean {
    return this.state === 'body' || this.headerBytes > 0;
  }

  private fatal(message: string): void {
    if (this.state === 'closed') return;
    this.dispose();
    this.onInbound({ kind: 'fatal', message });
  }

  private process(buf: Buffer): void {
    let off = 0;
    while (off < buf.length && this.state !== 'closed') {
      if (this.paused) {
        this.leftover = buf.subarray(off);
        this.input.pause();
        return;
      }
      off = this.state === 'header' ? this.readHeader(buf, off) : this.readBody(buf, off);
    }
    this.armTimer();
  }

  private readHeader(buf: Buffer, off: number): number {
    const allowance = this.maxHeader - this.headerBytes;
    const nl = buf.indexOf(0x0a, off);
    const end = nl === -1 ? buf.length : nl + 1;
    if (end - off > allowance) {
      this.fatal(`framing error: the header block is longer than ${this.maxHeader} bytes`);
      return buf.length;
    }
    this.line.push(buf.subarray(off, end));
    this.headerBytes += end - off;
    const line = this.line.length === 1 ? (this.line[0] as Buffer) : Buffer.concat(this.line);
    this.line = [line];
    if (nl === -1) {
      const problem = partialHeaderProblem(line);
      if (problem) this.fatal(`framing error: ${problem}`);
      return end;
    }
    this.line = [];
    if (line.length < 2 || line[line.length - 2] !== 0x0d) {
      this.fatal('framing error: header lines must end with CRLF (\\r\\n), found a bare LF');
      return end;
    }
    const text = line.subarray(0, line.length - 2);
    if (text.length > 0) {
      const problem =
        partialHeaderProblem(text, true) ?? takeHeaderLine(text.toString('latin1'), this.headers, this.maxFrame);
      if (problem) this.fatal(`framing error: ${problem}`);
      return end;
    }
    // The blank line: the header block is complete.
    if (this.headers.contentLength === undefined) {
      this.fatal('framing error: the header block has no Content-Length');
      return end;
    }
    this.remaining = this.headers.contentLength;
    this.state = 'body';
    if (this.remaining === 0) this.finishBody();
    return end;
  }

  private readBody(buf: Buffer, off: number): number {
    const take = Math.min(this.remaining, buf.length - off);
    this.body.push(buf.subarray(off, off + take));
    this.remaining -= take;
    if (this.remaining === 0) this.finishBody();
    return off + take;
  }

  private finishBody(): void {
    const body = Buffer.concat(this.body);
    this.body = [];
    this.headers = {};
    this.headerBytes = 0;
    this.state = 'header';
    this.onInbound(classifyBody(body));
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Run the idle clock while a frame is incomplete and we are reading. */
  private armTimer(): void {
    this.clearTimer();
    if (this.paused || this.state === 'closed' || !this.midFrame) return;
    const wait = Math.max(0, this.lastByteAt + this.idleMs - Date.now());
    this.timer = setTimeout(() => this.onIdle(), wait);
    this.timer.unref();
  }

  private onIdle(): void {
    this.timer = undefined;
    // A busy event loop runs timers before it reads the bytes that arrived meanwhile: look
    // once more after the poll phase has delivered them.
    setImmediate(() => {
      if (this.paused || this.state === 'closed' || !this.midFrame) return;
      if (Date.now() - this.lastByteAt < this.idleMs) return this.armTimer();
      const where =
        this.state === 'body'
          ? `${(this.headers.contentLength ?? 0) - this.remaining} of ${this.headers.contentLength ?? 0} body bytes`
          : `${this.headerBytes} header bytes`;
      this.fatal(`framing error: incomplete frame (${where}) with no byte for ${this.idleMs / 1000} s`);
    });
  }
}
