// Status bar text (extension/src/format.ts) for each state, and the number formatting it uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BypassStatus } from '../../protocol/src';
import { barText, fleetText } from '../../extension/src/format';
import { formatBytes, formatCount } from '../../protocol/src';

const counters = {
  redirected_msgs: 12345,
  redirected_bytes: 5 * 1024 * 1024,
  misses: 0,
  errors: 0,
  sockets_added: 4,
  sockets_skipped: 0,
};
const on: BypassStatus = {
  attached: true,
  owner: 'this-connection',
  objectName: 'bypass.bpf.o',
  mountpoint: '/mnt/x',
  cgroup: '/cg',
  endpoints: [],
  programs: [],
  counters,
  adoptedSockets: 0,
  remoteLeftAtAttach: 0,
  attachedAt: '2026-11-25T00:00:00Z',
};

test('counts and sizes', () => {
  assert.equal(formatCount(999), '999');
  assert.equal(formatCount(12345), '12.3k');
  assert.equal(formatCount(2_500_000), '2.5M');
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(5 * 1024 * 1024), '5.0 MiB');
});

test('bar text says on/off and shows the counters when on', () => {
  assert.match(barText({ kind: 'disconnected' }), /no node/);
  assert.equal(
    barText({ kind: 'connected', node: 'dfsnode0', bypass: on }),
    '$(zap) dfsnode0: bypass on · 12.3k msgs · 5.0 MiB',
  );
  assert.match(barText({ kind: 'connected', node: 'dfsnode0', bypass: { ...on, attached: false } }), /bypass off/);
});

test('the fleet item sums the nodes: how many on, what they redirected, which are unreachable', () => {
  const off: BypassStatus = { ...on, attached: false, owner: null };
  const member: BypassStatus = {
    ...on,
    counters: { ...counters, redirected_msgs: 0, redirected_bytes: 0, sockets_skipped: 2 },
    remoteLeftAtAttach: 3,
  };
  const f = fleetText([
    { name: 'n0', bypass: on },
    { name: 'n1', bypass: member },
    { name: 'n2', bypass: off },
    { name: 'n3', bypass: null, error: 'the node did not answer [NodeUnreachable]' },
  ]);
  assert.equal(f.text, '$(warning) 4 nodes · bypass 2/4 · 12.3k msgs · 5.0 MiB · 1 unreachable');
  assert.deepEqual(f.tooltip.split('\n'), [
    'n0: bypass on · 12.3k msgs · 5.0 MiB · 0 remote skipped',
    'n1: bypass on · 0 msgs · 0 B · 5 remote skipped',
    'n2: bypass off',
    'n3: the node did not answer [NodeUnreachable]',
  ]);
  assert.equal(
    fleetText([
      { name: 'a', bypass: off },
      { name: 'b', bypass: null },
    ]).text,
    '$(server-environment) 2 nodes · bypass 0/2',
  );
});
