// The agent's byte stream against a real agent process (root, empty network namespace, raw
// bytes on its stdin): every framing case gets its exact answer. Bodies that are not requests
// are answered (-32700 / -32600, id null when the id is unusable) and a valid request right
// after is still answered; every header error is answered once and the agent closes the
// connection (exit 0, as on a disconnect) instead of desynchronising; a 100 MiB body is refused
// from its header, before it is sent, with the agent's memory bounded; a frame that stops
// arriving is answered and closed after the idle time; a framing error releases the bypass
// the connection attached (on a local node, dfswifr). On the agent before the strict reader
// most of these got no answer at all, or hung (DFS_TEST_AGENT_JS=<old agent.js> shows it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BypassStatusRequest,
  ErrorCode,
  InitializeRequest,
  PROTOCOL_VERSION,
  type BypassStatus,
} from '../../protocol/src';
import { AgentClient } from '../../core/src/agent/client';
import { DfsError } from '../../core/src/errors';
import { nodeDown } from '../../core/src/testnode';
import { bpfPrograms, waitFor } from '../support/kernel';
import { upNode } from '../support/node';
import { frame, RawAgent, request } from '../support/agentProcess';

const ANSWER_MS = 15_000;
const CLOSES = /the agent closes the connection: the stream cannot be trusted after a framing error/;

async function statusAnswered(agent: RawAgent, id: number): Promise<void> {
  await agent.write(request(id, 'bypass/status'));
  assert.ok(await agent.until(() => agent.response(id) !== undefined, ANSWER_MS), `request ${id} answered`);
  assert.deepEqual((agent.response(id)?.result as { attached?: unknown } | undefined)?.attached, false);
}

test('bodies that are not requests get their exact answer, and the stream goes on', async () => {
  const cases: [string | Buffer, number | string | null, number, RegExp][] = [
    ['{"jsonrpc":"2.0","id":1,"method":', null, -32700, /^parse error: /],
    ['', null, -32700, /^parse error: /],
    [Buffer.from('{"jsonrpc":"2.0","id":1,"method":"\xff"}', 'latin1'), null, -32700, /not valid UTF-8/],
    ['{"jsonrpc":"2.0","id":{},"method":"bypass/status"}', null, -32600, /id must be a string .* not an object/],
    ['{"jsonrpc":"2.0","id":[1],"method":"bypass/status"}', null, -32600, /not an array/],
    ['{"jsonrpc":"2.0","id":null,"method":"bypass/status"}', null, -32600, /not null/],
    ['{"jsonrpc":"2.0","id":1.5,"method":"bypass/status"}', null, -32600, /id must be/],
    ['{"jsonrpc":"2.0","id":true,"method":"bypass/status"}', null, -32600, /not a boolean/],
    ['{"jsonrpc":"2.0","id":2,"method":5}', 2, -32600, /method must be a non-empty string/],
    ['{"jsonrpc":"1.0","id":3,"method":"bypass/status"}', 3, -32600, /jsonrpc must be "2.0"/],
    ['{"id":"x3","method":"bypass/status"}', 'x3', -32600, /jsonrpc must be "2.0"/],
    ['{"jsonrpc":"2.0","id":4,"method":"bypass/status","params":"all"}', 4, -32600, /params, when present/],
    ['{"jsonrpc":"2.0","id":5,"result":null}', 5, -32600, /method is missing/],
    ['{"jsonrpc":"2.0","id":6,"method":"bypass/status","command":"id"}', 6, -32600, /unknown member "command"/],
    ['[{"jsonrpc":"2.0","id":7,"method":"bypass/status"}]', null, -32600, /batches/],
    ['[]', null, -32600, /batches/],
    ['null', null, -32600, /must be a JSON object/],
    ['42', null, -32600, /must be a JSON object/],
    ['{"jsonrpc":"2.0","method":{"x":1}}', null, -32600, /method must be/],
    [
      `{"jsonrpc":"2.0","id":8,"method":"bypass/status","params":${'['.repeat(5000)}${']'.repeat(5000)}}`,
      null,
      -32600,
      /nested deeper/,
    ],
    // Valid envelopes with bad content: coded by the handlers.
    ['{"jsonrpc":"2.0","id":9,"method":"bypass/status","params":[1]}', 9, 4000, /params must be an object/],
    [
      '{"jsonrpc":"2.0","id":10,"method":"shell/exec","params":{"cmd":"id"}}',
      10,
      -32601,
      /unknown method "shell\/exec"/,
    ],
    ['{"jsonrpc":"2.0","id":11,"method":"agent/update","params":null}', 11, -32600, /params, when present/],
    ['{"jsonrpc":"2.0","id":12,"method":"agent/update","params":{}}', 12, 4000, /version and arch are required/],
  ];
  const agent = new RawAgent();
  try {
    let probe = 1000;
    for (const [body, id, code, message] of cases) {
      const before = agent.responses.length;
      await agent.write(frame(body));
      assert.ok(
        await agent.until(() => agent.responses.length > before, ANSWER_MS),
        `answered: ${String(body).slice(0, 80)}`,
      );
      const r = agent.responses[before];
      assert.equal(r?.id, id, String(body).slice(0, 80));
      assert.equal(r?.error?.code, code, String(body).slice(0, 80));
      assert.match(r?.error?.message ?? '', message, String(body).slice(0, 80));
      await statusAnswered(agent, probe++);
    }
    // A notification is not answered (JSON-RPC), and does not disturb the stream.
    await agent.write(frame('{"jsonrpc":"2.0","method":"$/cancelRequest"}'));
    await agent.write(frame('{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":{}}}'));
    await statusAnswered(agent, probe++);
    // A request without params is a request with empty params.
    await agent.write(frame('{"jsonrpc":"2.0","id":"np","method":"bypass/status"}'));
    assert.ok(await agent.until(() => agent.response('np') !== undefined, ANSWER_MS));
    assert.equal(agent.response('np')?.error, undefined, JSON.stringify(agent.response('np')));
    assert.deepEqual(agent.garbage, []);
    assert.equal(agent.exit, undefined, 'the agent is still serving');
  } finally {
    agent.kill();
  }
});

/** Header errors: each is answered once with id null, then the agent exits 0 and answers nothing more. */
const headerCases: [string, RegExp][] = [
  ['Content-Length: abc\r\n\r\n{}', /Content-Length must be digits only, got "abc"/],
  ['Content-Length: -5\r\n\r\n{}', /digits only, got "-5"/],
  ['Content-Length: +2\r\n\r\n{}', /digits only, got "\+2"/],
  ['Content-Length: 2.0\r\n\r\n{}', /digits only, got "2.0"/],
  ['Content-Length: 1e20\r\n\r\n{}', /digits only, got "1e20"/],
  ['Content-Length: 0x10\r\n\r\n{}', /digits only, got "0x10"/],
  ['Content-Length: \r\n\r\n{}', /digits only, got ""/],
  [
    'Content-Length: 100000000000000000000\r\n\r\n{}',
    /Content-Length "100000000000000000000" exceeds the agent's limit of 50331648 bytes/,
  ],
  ['Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}', /Content-Length appears twice/],
  ['Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}', /Content-Length appears twice/],
  ['Content-Type: application/json\r\n\r\n{}', /the header block has no Content-Length/],
  ['\r\n\r\n{}', /no Content-Length/],
  [
    'X-Request: 1\r\nContent-Length: 2\r\n\r\n{}',
    /unknown header "X-Request": the agent accepts only Content-Length and Content-Type/,
  ],
  ['Content-Length 2\r\n\r\n{}', /expected a header line \(Content-Length: N\), found " " at byte 14/],
  ['Content-Length: 2\n\n{}', /header lines must end with CRLF/],
  ['Content-Length: 2\r\nContent-Type: text/plain; charset=latin1\r\n\r\n{}', /charset, if given, is utf-8/],
  [
    '{"jsonrpc":"2.0","id":1,"method":"bypass/status"}',
    /found "\{" \(a JSON body without its Content-Length header\?\)/,
  ],
  ['garbage\r\n\r\n', /malformed header line "garbage"/],
  ['Content-Length: 2\r\nX\u0000Y: 1\r\n\r\n{}', /expected a header line .* found "\\u0000"/],
  ['Content-Length: 2\u00e9\r\n\r\n{}', /printable ASCII; found byte 0xe9/],
  [`Content-Type: application/${'x'.repeat(2000)}\r\n\r\n{}`, /the header block is longer than 1024 bytes/],
];

test('every header error is answered once, then the connection closes like a disconnect', async () => {
  // A few agents at a time: each case needs its own, since the connection ends.
  for (let i = 0; i < headerCases.length; i += 4) {
    await Promise.all(
      headerCases.slice(i, i + 4).map(async ([input, message]) => {
        const agent = new RawAgent();
        try {
          await statusAnswered(agent, 1);
          await agent.write(Buffer.from(input, 'latin1'));
          await agent.write(request(2, 'bypass/status'));
          const closed = await agent.until(() => agent.exit !== undefined, ANSWER_MS);
          assert.ok(closed, `the agent closed after ${JSON.stringify(input.slice(0, 60))}`);
          assert.deepEqual(agent.exit, { code: 0, signal: null }, JSON.stringify(input.slice(0, 60)));
          const answers = agent.responses.filter((r) => r.id !== 1);
          assert.equal(answers.length, 1, `exactly one answer to ${JSON.stringify(input.slice(0, 60))}`);
          assert.equal(answers[0]?.id, null);
          assert.equal(answers[0]?.error?.code, -32700);
          assert.match(answers[0]?.error?.message ?? '', message, JSON.stringify(input.slice(0, 60)));
          assert.match(answers[0]?.error?.message ?? '', CLOSES);
          assert.deepEqual(agent.garbage, []);
        } finally {
          agent.kill();
        }
      }),
    );
  }
});

test('a wrong Content-Length that desynchronises the stream ends in an answer and a close, never a hang', async () => {
  // Too short: the body is cut, the rest of it starts a "header".
  const short = new RawAgent();
  // Too long: the next (valid) request is swallowed into this body.
  const long = new RawAgent();
  try {
    const body = '{"jsonrpc":"2.0","id":1,"method":"bypass/status"}';
    await short.write(`Content-Length: 10\r\n\r\n${body}`);
    await long.write(
      Buffer.concat([Buffer.from(`Content-Length: ${body.length + 30}\r\n\r\n${body}`), request(2, 'bypass/status')]),
    );
    for (const agent of [short, long]) {
      assert.ok(await agent.until(() => agent.exit !== undefined, ANSWER_MS), 'closed');
      assert.deepEqual(agent.exit, { code: 0, signal: null });
      assert.deepEqual(
        agent.responses.map((r) => [r.id, r.error?.code]),
        [
          [null, -32700],
          [null, -32700],
        ],
      );
      assert.match(agent.responses[0]?.error?.message ?? '', /^parse error/);
      assert.match(agent.responses[1]?.error?.message ?? '', CLOSES);
    }
  } finally {
    short.kill();
    long.kill();
  }
});

test('a 100 MiB body is refused from its header, before it is sent, with memory bounded', async (t) => {
  const agent = new RawAgent();
  try {
    await statusAnswered(agent, 1);
    const base = agent.memory();
    assert.ok(base, 'agent running');
    await agent.write(`Content-Length: ${100 * 1024 * 1024}\r\n\r\n`);
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    let sent = 0;
    // Keep sending the body until the agent answers (it must not wait for it all).
    while (agent.exit === undefined && agent.responses.length < 2 && sent < 100) {
      await agent.write(chunk);
      sent++;
      agent.memory();
    }
    assert.ok(await agent.until(() => agent.exit !== undefined, ANSWER_MS), 'closed');
    assert.ok(sent < 100, `answered after ${sent} of 100 MiB were sent`);
    const r = agent.responses.find((x) => x.id === null);
    assert.match(r?.error?.message ?? '', /Content-Length 104857600 exceeds the agent's limit of 50331648 bytes/);
    assert.deepEqual(agent.exit, { code: 0, signal: null });
    // The peak resident size stays near the idle agent's (the old agent reached 362 MB).
    t.diagnostic(`answered after ${sent} MiB sent; agent peak RSS ${agent.peakKb} kB, ${base.hwmKb} kB before`);
    assert.ok(agent.peakKb < base.hwmKb + 32 * 1024, `peak ${agent.peakKb} kB vs ${base.hwmKb} kB before`);
  } finally {
    agent.kill();
  }
});

test(
  'a frame that stops arriving is answered and closed after the idle time (30 s)',
  { timeout: 120_000 },
  async () => {
    const inHeader = new RawAgent();
    const inBody = new RawAgent();
    try {
      await statusAnswered(inHeader, 1);
      await statusAnswered(inBody, 1);
      await inHeader.write('Content-Length: 5');
      await inBody.write('Content-Length: 100\r\n\r\n{"jsonrpc":"2.0",');
      for (const [agent, where] of [
        [inHeader, /incomplete frame \(17 header bytes\) with no byte for 30 s/],
        [inBody, /incomplete frame \(17 of 100 body bytes\) with no byte for 30 s/],
      ] as const) {
        assert.ok(await agent.until(() => agent.exit !== undefined, 90_000), 'closed after the idle time');
        assert.deepEqual(agent.exit, { code: 0, signal: null });
        const r = agent.responses.find((x) => x.id === null);
        assert.match(r?.error?.message ?? '', where);
        assert.match(r?.error?.message ?? '', CLOSES);
      }
    } finally {
      inHeader.kill();
      inBody.kill();
    }
  },
);

test("the client's vscode-jsonrpc frames interoperate, and a closed stream names the agent's framing error", async () => {
  const agent = new RawAgent();
  const client = new AgentClient(agent.proc.stdout, agent.proc.stdin);
  try {
    // Every request the real client sends is framed as the strict reader accepts.
    const info = await client.request(InitializeRequest, { client: 'framing-test', protocolVersion: PROTOCOL_VERSION });
    assert.equal(info.protocolVersion, PROTOCOL_VERSION);
    assert.equal((await client.request(BypassStatusRequest, {})).attached, false);
    const closed = new Promise<string>((resolve) => client.onClose(resolve));
    await agent.write('Content-Length: twelve\r\n\r\n');
    assert.match(await closed, /the agent said: framing error: Content-Length must be digits only, got "twelve"/);
    await assert.rejects(
      () => client.request(BypassStatusRequest, {}),
      (e: unknown) => e instanceof DfsError && e.code === ErrorCode.ConnectionLost && /digits only/.test(e.message),
    );
    await agent.exited;
    assert.deepEqual(agent.exit, { code: 0, signal: null });
  } finally {
    client.dispose();
    agent.kill();
  }
});

test(
  'a framing error releases the bypass this connection attached, as a disconnect does',
  { timeout: 300_000 },
  async () => {
    const name = 'dfswifr';
    await upNode(name);
    const agent = new RawAgent(undefined, name);
    try {
      await agent.write(request(1, 'bypass/attach', { pin: false }));
      assert.ok(await agent.until(() => agent.response(1) !== undefined, 60_000), 'attach answered');
      const status = agent.response(1)?.result as BypassStatus | undefined;
      assert.equal(status?.attached, true, JSON.stringify(agent.response(1)));
      assert.equal(status?.owner, 'this-connection');
      const ids = status.programs.map((p) => p.id);
      assert.equal(ids.length, 3, 'the stub, the redirect and sock_ops');
      const loaded = (): number[] => bpfPrograms().map((p) => p.id);
      assert.ok(
        ids.every((id) => loaded().includes(id)),
        'the bypass programs are loaded',
      );
      await agent.write('Content-Length: 12x\r\n\r\n');
      assert.ok(await agent.until(() => agent.exit !== undefined, ANSWER_MS), 'closed');
      assert.deepEqual(agent.exit, { code: 0, signal: null });
      assert.match(agent.response(null)?.error?.message ?? '', CLOSES);
      await waitFor(() => !ids.some((id) => loaded().includes(id)), 3000, `programs ${ids.join(', ')} to be released`);
    } finally {
      agent.kill();
      await nodeDown({ name });
    }
  },
);

test('every agent process these tests started has exited', async () => {
  await waitFor(() => RawAgent.live.size === 0, 5000, 'the agents to exit');
});
