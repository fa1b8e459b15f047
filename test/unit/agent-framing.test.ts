// The agent's strict frame reader (remote-agent/src/framing.ts, envelope.ts) without a process:
// what vscode-jsonrpc writes is read back byte for byte, split anywhere; every malformed
// header is fatal at once, every malformed body is answered and the stream goes on; an
// oversized body is refused from its header; a stalled frame times out; pause holds input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { StreamMessageWriter, type NotificationMessage, type RequestMessage } from 'vscode-jsonrpc/node';
import { checkEnvelope, classifyBody, jsonDepth } from '../../remote-agent/src/envelope';
import { FrameReader, MAX_FRAME_BYTES, type FrameReaderOptions, type Inbound } from '../../remote-agent/src/framing';

function frame(body: string | Buffer): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  return Buffer.concat([Buffer.from(`Content-Length: ${b.length}\r\n\r\n`), b]);
}

const status = (id: number | string): string =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'bypass/status', params: {} });

/** Feed chunks to a reader and collect what it makes of them. */
function read(chunks: (string | Buffer)[], opts: FrameReaderOptions = {}): { got: Inbound[]; ended: string[] } {
  const input = new PassThrough();
  const reader = new FrameReader(input, opts);
  const got: Inbound[] = [];
  const ended: string[] = [];
  reader.listen(
    (m) => got.push(m),
    (why) => ended.push(why),
  );
  for (const c of chunks) input.emit('data', typeof c === 'string' ? Buffer.from(c, 'latin1') : c);
  reader.dispose();
  return { got, ended };
}

const kinds = (got: Inbound[]): string[] =>
  got.map((m) => (m.kind === 'request' ? `request:${m.id}` : m.kind === 'invalid' ? `invalid:${m.code}` : m.kind));

test("what vscode-jsonrpc's writer sends is read back exactly, in any split", async () => {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (d: Buffer) => chunks.push(d));
  const writer = new StreamMessageWriter(out);
  const msg: RequestMessage = {
    jsonrpc: '2.0',
    id: 7,
    method: 'agent/initialize',
    params: { client: 'tëst ✓', protocolVersion: 1 },
  };
  await writer.write(msg);
  const cancel: NotificationMessage = { jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 7 } };
  await writer.write(cancel);
  const bytes = Buffer.concat(chunks);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const { got } = read([bytes.subarray(0, cut), bytes.subarray(cut)]);
    assert.deepEqual(got, [
      { kind: 'request', id: 7, method: 'agent/initialize', params: msg.params },
      { kind: 'notification', method: '$/cancelRequest', params: { id: 7 } },
    ]);
  }
  const oneByOne = read([...bytes].map((b) => Buffer.from([b])));
  assert.deepEqual(kinds(oneByOne.got), ['request:7', 'notification']);
});

test('Content-Type is optional and header names are case-insensitive', () => {
  const body = status(1);
  const { got } = read([
    `content-length: ${body.length}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n${body}`,
    `Content-Type: application/json\r\nCONTENT-LENGTH:${body.length}\r\n\r\n${body}`,
  ]);
  assert.deepEqual(kinds(got), ['request:1', 'request:1']);
});

test('every malformed header is fatal as soon as it shows, and nothing after it is read', () => {
  const cases: [string, RegExp][] = [
    ['Content-Length: abc\r\n\r\n', /digits only, got "abc"/],
    ['Content-Length: -5\r\n\r\n', /digits only/],
    ['Content-Length: 1e20\r\n\r\n', /digits only, got "1e20"/],
    ['Content-Length: +10\r\n\r\n', /digits only/],
    ['Content-Length: 0x10\r\n\r\n', /digits only/],
    ['Content-Length: \r\n\r\n', /digits only/],
    ['Content-Length: 99999999999999999999\r\n\r\n', /exceeds the agent's limit/],
    [`Content-Length: ${MAX_FRAME_BYTES + 1}\r\n\r\n`, /exceeds the agent's limit of 50331648 bytes/],
    ['Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}', /appears twice/],
    ['Content-Type: application/json\r\n\r\n{}', /no Content-Length/],
    ['\r\n\r\n', /no Content-Length/],
    ['X-Foo: bar\r\n', /unknown header "X-Foo"/],
    ['Content-Length 2\r\n\r\n{}', /expected a header line/],
    ['Content-Length: 2\n\n{}', /CRLF/],
    ['Content-Type: text/plain; charset=latin1\r\n', /charset, if given, is utf-8/],
    ['{"jsonrpc":"2.0","id":1,"method":"bypass/status"}', /JSON body without its Content-Length/],
    ['Content-Length: 2\r\nX\u0000: y', /expected a header line/],
    ['Content-Length: 1\u0007\r\n', /printable ASCII/],
    [': 2\r\n', /start with a header name/],
    [`Content-Type: ${'a'.repeat(2000)}`, /longer than 1024 bytes/],
  ];
  for (const [input, message] of cases) {
    const { got } = read([input, frame(status(9))]);
    assert.equal(got.length, 1, JSON.stringify(input));
    const [m] = got;
    assert.equal(m?.kind, 'fatal', JSON.stringify(input));
    assert.match(m.kind === 'fatal' ? m.message : '', message, JSON.stringify(input));
  }
});

test('an oversized body is refused from its header, before any of it arrives', () => {
  const { got } = read([`Content-Length: ${100 * 1024 * 1024}\r\n\r\n`]);
  assert.deepEqual(kinds(got), ['fatal']);
});

test('bodies that are not requests are answered and the stream goes on', () => {
  const cases: [string | Buffer, number | string | null, number, RegExp][] = [
    ['{"jsonrpc":"2.0","id":1,"method":', null, -32700, /parse error/],
    ['', null, -32700, /parse error/],
    [Buffer.from([0x7b, 0xff, 0x7d]), null, -32700, /not valid UTF-8/],
    ['{"jsonrpc":"2.0","id":{},"method":"bypass/status"}', null, -32600, /id must be/],
    ['{"jsonrpc":"2.0","id":null,"method":"bypass/status"}', null, -32600, /id must be/],
    ['{"jsonrpc":"2.0","id":1.5,"method":"bypass/status"}', null, -32600, /id must be/],
    ['{"jsonrpc":"2.0","id":1e400,"method":"bypass/status"}', null, -32600, /non-finite/],
    [`{"jsonrpc":"2.0","id":"${'x'.repeat(300)}","method":"bypass/status"}`, null, -32600, /id must be/],
    ['{"jsonrpc":"2.0","id":2,"method":5}', 2, -32600, /method must be/],
    ['{"jsonrpc":"2.0","id":"two","method":""}', 'two', -32600, /method must be/],
    ['{"jsonrpc":"1.0","id":3,"method":"bypass/status"}', 3, -32600, /jsonrpc must be "2.0"/],
    ['{"id":3,"method":"bypass/status"}', 3, -32600, /jsonrpc/],
    ['{"jsonrpc":"2.0","id":4,"method":"bypass/status","params":5}', 4, -32600, /params/],
    ['{"jsonrpc":"2.0","id":4,"method":"bypass/status","params":null}', 4, -32600, /params/],
    ['{"jsonrpc":"2.0","id":5,"result":{}}', 5, -32600, /method is missing/],
    ['{"jsonrpc":"2.0","id":6,"method":"x","extra":1}', 6, -32600, /unknown member "extra"/],
    ['[{"jsonrpc":"2.0","id":7,"method":"bypass/status"}]', null, -32600, /batches/],
    ['[]', null, -32600, /batches/],
    ['null', null, -32600, /JSON object/],
    ['"text"', null, -32600, /JSON object/],
    ['5', null, -32600, /JSON object/],
    ['{"jsonrpc":"2.0","method":7}', null, -32600, /method must be/],
    [`{"a":${'['.repeat(100)}${']'.repeat(100)}}`, null, -32600, /nested deeper than 64/],
  ];
  for (const [body, id, code, message] of cases) {
    const { got } = read([frame(body), frame(status(99))]);
    assert.equal(got.length, 2, String(body));
    const [m, next] = got;
    assert.equal(m?.kind, 'invalid', String(body));
    if (m?.kind !== 'invalid') continue;
    assert.equal(m.id, id, String(body));
    assert.equal(m.code, code, String(body));
    assert.match(m.message, message, String(body));
    assert.deepEqual(next && kinds([next]), ['request:99'], String(body));
  }
});

test('notifications and requests with and without params', () => {
  assert.deepEqual(checkEnvelope({ jsonrpc: '2.0', method: 'm' }), {
    kind: 'notification',
    method: 'm',
    params: undefined,
  });
  assert.deepEqual(checkEnvelope({ jsonrpc: '2.0', id: 'a', method: 'm', params: [1] }), {
    kind: 'request',
    id: 'a',
    method: 'm',
    params: [1],
  });
  assert.equal(classifyBody(Buffer.from('\ufeff{"jsonrpc":"2.0","id":1,"method":"m"}')).kind, 'request');
});

test('jsonDepth counts nesting outside strings only', () => {
  assert.equal(jsonDepth(Buffer.from('{"a":[1,{"b":2}]}'), 64), 3);
  assert.equal(jsonDepth(Buffer.from('{"a":"[[[[\\"[[["}'), 64), 1);
  assert.equal(jsonDepth(Buffer.from('['.repeat(1000)), 64), 65);
});

test('a frame that stops arriving is fatal after the idle time; between frames there is no clock', async () => {
  const input = new PassThrough();
  const reader = new FrameReader(input, { idleMs: 100 });
  const got: Inbound[] = [];
  reader.listen(
    (m) => got.push(m),
    () => undefined,
  );
  input.write(frame(status(1)));
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(kinds(got), ['request:1'], 'idle between frames is fine');
  input.write('Content-Length: 10\r\n\r\n{"js');
  await new Promise((r) => setTimeout(r, 400));
  assert.deepEqual(kinds(got), ['request:1', 'fatal']);
  const last = got[1];
  assert.match(last?.kind === 'fatal' ? last.message : '', /incomplete frame \(4 of 10 body bytes\)/);
  reader.dispose();
});

test('pause holds the rest of a chunk until resume, in order', () => {
  const input = new PassThrough();
  const reader = new FrameReader(input);
  const got: Inbound[] = [];
  reader.listen(
    (m) => {
      got.push(m);
      if (got.length === 2) reader.pause();
    },
    () => undefined,
  );
  input.emit('data', Buffer.concat([1, 2, 3, 4].map((i) => frame(status(i)))));
  assert.deepEqual(kinds(got), ['request:1', 'request:2']);
  reader.resume();
  assert.deepEqual(kinds(got), ['request:1', 'request:2', 'request:3', 'request:4']);
  reader.dispose();
});

test('chunks that arrive while paused queue behind the held bytes, in order', () => {
  const input = new PassThrough();
  const reader = new FrameReader(input);
  const got: Inbound[] = [];
  reader.listen(
    (m) => {
      got.push(m);
      if (got.length === 1) reader.pause();
    },
    () => undefined,
  );
  const frames = [1, 2, 3, 4, 5].map((i) => frame(status(i)));
  input.emit('data', Buffer.concat([frames[0], frames[1]] as Buffer[]));
  input.emit('data', frames[2]);
  input.emit('data', Buffer.concat([frames[3], frames[4]] as Buffer[]));
  assert.deepEqual(kinds(got), ['request:1']);
  reader.resume();
  assert.deepEqual(kinds(got), ['request:1', 'request:2', 'request:3', 'request:4', 'request:5']);
  reader.dispose();
});
