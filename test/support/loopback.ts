// Test support: a real TCP connection on 127.0.0.1 (both ends in this process) and the fd
// under a Node socket, for tests that put sockets into a sockhash.
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';

export async function loopbackConnection(): Promise<{ server: Server; client: Socket; peer: Socket }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const client = connect(address.port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
  return { server, client, peer: await accepted };
}

/** The fd under a connected net.Socket (libuv's; Node has no public accessor). */
export function socketFd(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  assert.ok(typeof fd === 'number' && fd >= 0, 'the socket has an fd');
  return fd;
}
