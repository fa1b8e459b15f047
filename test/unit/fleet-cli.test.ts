// The fleet-wide `--node` value (core/src/ssh/target.ts nodeSpecList, namesSeveral) and the
// per-node file names of a fleet profile (cli/src/commands/profile.ts perNodeFile).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { namesSeveral, nodeSpecList } from '../../core/src/ssh/target';
import { perNodeFile } from '../../core/src/profile/files';

test('a list names several nodes, in its order, each once; one spec names one', () => {
  assert.deepEqual(nodeSpecList('a, b ,c,a'), ['a', 'b', 'c']);
  assert.deepEqual(nodeSpecList('jfs@10.0.0.1:2222,jfs2'), ['jfs@10.0.0.1:2222', 'jfs2']);
  assert.deepEqual(nodeSpecList('dfsnode1'), ['dfsnode1']);
  assert.equal(namesSeveral('a,b'), true);
  assert.equal(namesSeveral('all'), true);
  assert.equal(namesSeveral('a'), false);
  assert.equal(namesSeveral(undefined), false);
  assert.equal(namesSeveral('user@host:22'), false);
});

test('a fleet profile writes one file per node, named after it', () => {
  assert.equal(perNodeFile('prof.json', 'dfsnode1'), 'prof-dfsnode1.json');
  assert.equal(perNodeFile('out/p.speedscope.json', 'n2'), 'out/p-n2.speedscope.json');
  assert.equal(perNodeFile('run', 'n0'), 'run-n0');
  assert.equal(perNodeFile('prof.json', undefined), 'prof.json');
});
