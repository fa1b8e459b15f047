// Test support: a real orphaned bypass, as an agent of the old shape leaves it when it dies.
// The old-shape fixture's sk_msg program uses the sockhash itself; it is loaded with our addon
// (without its sock_ops program, whose link would have died with the agent), attached to the
// sockhash, given both ends of a live loopback TCP connection, and then every fd of ours is
// closed. The sockets keep the program, the program keeps the sockhash: nothing frees it
// until someone empties the map (or the sockets close, which close() does at the end).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { compileBpf } from '../../core/src/build/clang';
import type { Addon } from '../../remote-agent/src/native';
import { footprintOfPrograms, type Footprint } from './bypassState';
import { agentBundle } from './node';
import { repoRoot } from './repo';

export interface Orphan {
  footprint: Footprint;
  sockets: number;
  /** Close the TCP connection (which frees the orphan if nothing else did). */
  close: () => void;
}

function fdOf(s: Socket): number {
  const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
  assert.ok(typeof fd === 'number' && fd >= 0, 'a TCP socket has an fd');
  return fd;
}

/** struct bypass_sock_key of a socket: local then remote address and port (network order). */
function keyOf(s: Socket): Buffer {
  const key = Buffer.alloc(16);
  key.set((s.localAddress ?? '').split('.').map(Number), 0);
  key.set((s.remoteAddress ?? '').split('.').map(Number), 4);
  key.writeUInt16BE(s.localPort ?? 0, 10);
  key.writeUInt16BE(s.remotePort ?? 0, 14);
  return key;
}

export async function orphanOldShapeBypass(workDir: string): Promise<Orphan> {
  const built = await compileBpf(join(repoRoot(), 'test/fixtures/bpf/bypass/old_shape.bpf.c'), workDir, {
    includeDirs: [join(repoRoot(), 'bpf')],
  });
  assert.ok(built.ok, built.stderr);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const addon = require(join(agentBundle(), 'dfs_bpf.node')) as Addon;

  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  await new Promise<void>((r) => client.once('connect', r));
  const peer = await accepted;
  server.close();

  const obj = addon.openObject(readFileSync(built.object), { name: 'old_shape.bpf.o', logLevel: 0, logSize: 0 });
  let footprint: Footprint;
  try {
    obj.setAutoload('bypass_sockops', false);
    const res = obj.load();
    assert.equal(res.errno, 0, res.log || res.messages);
    const link = obj.attachToMap('bypass_skmsg', 'bypass_sockhash', 'sk_msg_verdict');
    const sockhash = obj.mapFd('bypass_sockhash');
    for (const s of [client, peer]) {
      const fd = Buffer.alloc(4);
      fd.writeUInt32LE(fdOf(s));
      addon.mapUpdate(sockhash, keyOf(s), fd, 1 /* BPF_NOEXIST */);
    }
    const prog = obj.programs().find((p) => p.name === 'bypass_skmsg');
    assert.ok(prog && prog.id > 0);
    footprint = footprintOfPrograms([prog.id]);
    link.destroy();
  } finally {
    obj.close(); // as the kernel closes a dead agent's fds
  }
  return {
    footprint,
    sockets: 2,
    close: () => {
      client.destroy();
      peer.destroy();
    },
  };
}
