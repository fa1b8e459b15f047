// Which kernel a build is for (core/src/ssh/target.ts kernelIsLocal, localNodeName): decided
// by target resolution, not by how the node is spelled. `dfs-ebpf build --node ALIAS` once
// took any short lowercase name for a local node and built against this machine's kernel;
// an ~/.ssh/config alias or a host is remote unless a local test node of that name exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LOCAL_NODE, kernelIsLocal, localNodeName } from '../../core/src/ssh/target';

test('no node, local:NAME: this machine', () => {
  assert.equal(localNodeName(undefined), DEFAULT_LOCAL_NODE);
  assert.equal(localNodeName('  '), DEFAULT_LOCAL_NODE);
  assert.equal(localNodeName('local:dfsvex'), 'dfsvex');
  assert.equal(kernelIsLocal(''), true);
  assert.equal(kernelIsLocal('local:dfsvex'), true);
});

test('a short lowercase alias that is no local node, user@host and host:port: a remote kernel', () => {
  for (const spec of ['dfsvenosuch', 'lab7', 'alice@192.0.2.10', 'node.example.com:2222']) {
    assert.equal(localNodeName(spec), null, spec);
    assert.equal(kernelIsLocal(spec), false, spec);
  }
});
