// Status bar text (extension/src/format.ts) for each state, and the number formatting it uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BypassStatus } from '../../protocol/src';
import { barText } from '../../extension/src/format';
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
