// The pure rules of a local fleet (core/src/testnode/fleetPlan.ts, the fleet names in paths.ts)
// and the `node` verbs' options (cli/src/commands/node.ts): names, addresses, interface names
// within the kernel's 15 characters, who stands in the way of a fleet, the order `--all` takes
// nodes in, and the option combinations the CLI refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, UsageError } from '../../cli/src/args';
import { parseNodeArgs } from '../../cli/src/commands/node';
import { DfsError } from '../../core/src/errors';
import {
  fleetConflicts,
  fleetMembers,
  fleetNodeNames,
  selectAll,
  validateFleetPrefix,
  validateFleetSize,
} from '../../core/src/testnode/fleetPlan';
import {
  fleetAddress,
  fleetBucketUrl,
  fleetMetaUrl,
  fleetNetns,
  MAX_NODES,
  NODE_NAME_RE,
  nodePaths,
} from '../../core/src/testnode/paths';

test('a fleet is PREFIX0 … PREFIX<N-1>, 2 to 8 nodes, each a valid node name', () => {
  assert.deepEqual(fleetNodeNames('dfsnode', 3), ['dfsnode0', 'dfsnode1', 'dfsnode2']);
  const longest = fleetNodeNames('a'.repeat(11), 8);
  for (const n of longest) assert.match(n, NODE_NAME_RE);
  for (const bad of [0, 1, 9, 2.5, NaN]) assert.throws(() => validateFleetSize(bad), DfsError, String(bad));
  for (const bad of ['', 'A', '1abc', 'a-b', 'a'.repeat(12)]) assert.throws(() => validateFleetPrefix(bad), DfsError);
});

test('fleet addresses come from the node index, one /24, never in the host netns names', () => {
  assert.equal(fleetAddress(0), '10.214.0.1');
  assert.equal(fleetAddress(MAX_NODES - 1), `10.214.0.${MAX_NODES}`);
  assert.throws(() => fleetAddress(MAX_NODES));
  assert.throws(() => fleetAddress(-1));
  const all = Array.from({ length: MAX_NODES }, (_, i) => fleetAddress(i));
  assert.equal(new Set(all).size, MAX_NODES);
  assert.equal(fleetMetaUrl('10.214.0.1'), 'redis://10.214.0.1:6379/1');
  assert.equal(fleetBucketUrl('10.214.0.1'), 'redis://10.214.0.1:6380/0');
  // '-' never occurs in a node name: the fleet netns cannot be some node's netns.
  assert.equal(fleetNetns('dfsnode0'), 'dfsnode0-fleet');
  assert.doesNotMatch(fleetNetns('dfsnode0'), NODE_NAME_RE);
});

test('fleet interface names fit the kernel limit for the longest node name', () => {
  const p = nodePaths('a'.repeat(12));
  for (const ifname of [p.vethFleet, p.vethFleetPort, p.vethHost, p.vethNode]) assert.ok(ifname.length <= 15, ifname);
  assert.notEqual(p.vethFleet, p.vethFleetPort);
});

test('a standalone node may become node 0 but never a member; no node changes fleets', () => {
  const names = ['f0', 'f1', 'f2'];
  assert.deepEqual(fleetConflicts(names, []), []);
  assert.deepEqual(fleetConflicts(names, [{ name: 'f0' }]), [], 'a standalone f0 becomes node 0');
  assert.deepEqual(
    fleetConflicts(names, [
      { name: 'f0', fleetNode0: 'f0' },
      { name: 'f1', fleetNode0: 'f0' },
    ]),
    [],
    'the same fleet again',
  );
  assert.deepEqual(fleetConflicts(names, [{ name: 'f1' }]), ['f1 is a standalone node with a volume of its own']);
  assert.deepEqual(fleetConflicts(names, [{ name: 'f0', fleetNode0: 'g0' }]), ['f0 belongs to the fleet of g0']);
  assert.deepEqual(fleetConflicts(names, [{ name: 'f2', fleetNode0: 'g0' }]), ['f2 belongs to the fleet of g0']);
  assert.deepEqual(fleetConflicts(names, [{ name: 'other' }, { name: 'f9', fleetNode0: 'f0' }]), []);
});

test('--all takes members before any node 0, and with a prefix only that fleet', () => {
  const records = [
    { name: 'a0', fleetNode0: 'a0' },
    { name: 'a1', fleetNode0: 'a0' },
    { name: 'a2', fleetNode0: 'a0' },
    { name: 'b0', fleetNode0: 'b0' },
    { name: 'b1', fleetNode0: 'b0' },
    { name: 'dfsnode0' },
    { name: 'a10' }, // a standalone node that only looks like fleet a's
  ];
  assert.deepEqual(selectAll(records), ['a1', 'a2', 'b1', 'a0', 'a10', 'b0', 'dfsnode0']);
  assert.deepEqual(selectAll(records, 'a'), ['a1', 'a2', 'a0']);
  assert.deepEqual(selectAll(records, 'b'), ['b1', 'b0']);
  assert.deepEqual(selectAll(records, 'zz'), []);
  assert.deepEqual(selectAll([]), []);
  assert.throws(() => selectAll(records, 'Bad'), DfsError);
  assert.deepEqual(fleetMembers('a0', records), ['a1', 'a2']);
  assert.deepEqual(fleetMembers('dfsnode0', records), []);
});

test('node options: --count with up only (a whole number in 2..8), --all with down and status only', () => {
  const spec = { name: { value: true }, count: { value: true }, all: {}, json: {} };
  const parse = (argv: string[]): ReturnType<typeof parseNodeArgs> => parseNodeArgs(parseArgs(argv, spec));
  assert.deepEqual(parse(['node', 'up', '--count', '3', '--name', 'f']), {
    verb: 'up',
    name: 'f',
    count: 3,
    all: false,
  });
  assert.deepEqual(parse(['node', 'up']), { verb: 'up', name: undefined, count: undefined, all: false });
  assert.deepEqual(parse(['node', 'down', '--all']), { verb: 'down', name: undefined, count: undefined, all: true });
  assert.equal(parse(['node', 'status', '--all', '--name', 'f']).all, true);
  for (const argv of [
    ['node', 'up', '--count', '1'],
    ['node', 'up', '--count', '9'],
    ['node', 'up', '--count', '2.5'],
    ['node', 'up', '--count', 'x'],
    ['node', 'down', '--count', '3'],
    ['node', 'status', '--count', '3'],
    ['node', 'up', '--all'],
    ['node', 'install', '--all'],
  ])
    assert.throws(() => parse(argv), UsageError, argv.join(' '));
});
