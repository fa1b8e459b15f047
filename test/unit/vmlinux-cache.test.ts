// BTF only when needed (issue 6, item 10), without a node: core/src/build/vmlinux.ts asks an
// agent for the digest once per session and for the BTF only when the vmlinux.h cache entry
// for that release and digest is missing, and it checks the BTF against the agent's digest;
// the agent validates `kernel/btf` params by name. A fake requester stands in for the session
// (it models only the request/answer pairs), and the cache lives in a temporary XDG_CACHE_HOME.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  ErrorCode,
  KernelBtfRequest,
  type KernelBtfParams,
  type KernelBtfResult,
  type RequestSpec,
} from '../../protocol/src';
import { nodeKernelHeaders, vmlinuxCacheDir } from '../../core/src/build/vmlinux';
import { DfsError } from '../../core/src/errors';
import { parseKernelBtf } from '../../remote-agent/src/params';
import { tempCacheHome } from '../support/cacheHome';

const cache = tempCacheHome('dfs-vmlinux-cache-');

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A node whose kernel/btf answers from `btf`, reporting `digest`; it records every request. */
function fakeNode(release: string, btf: Buffer, digest = sha(btf)) {
  const asked: KernelBtfParams[] = [];
  return {
    asked,
    request<P, R>(spec: RequestSpec<P, R>, params: P): Promise<R> {
      assert.equal(spec.method, KernelBtfRequest.method);
      const p = params as KernelBtfParams;
      asked.push(p);
      const r: KernelBtfResult = p.digestOnly
        ? { release, sha256: digest }
        : { release, sha256: digest, btfGz: gzipSync(btf).toString('base64') };
      return Promise.resolve(r as R);
    },
  };
}

test('a cached kernel: one digest request per session, none after, the cache entry keyed by release and digest', async () => {
  const btf = Buffer.from('pretend BTF of kernel A');
  const dir = vmlinuxCacheDir('6.18.0-a', sha(btf));
  assert.equal(dir, join(cache, 'dfs-ebpf', 'vmlinux', `6.18.0-a-${sha(btf).slice(0, 16)}`));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'vmlinux.h'), '/* cached */\n');
  writeFileSync(join(dir, 'vmlinux.btf'), btf); // an entry keeps the BTF it was made from

  const session = fakeNode('6.18.0-a', btf);
  const first = await nodeKernelHeaders(session);
  assert.deepEqual(first, { dir, release: '6.18.0-a', btfSha256: sha(btf), from: 'node' });
  await nodeKernelHeaders(session);
  await nodeKernelHeaders(session);
  assert.deepEqual(session.asked, [{ digestOnly: true }], 'the digest once, never the BTF');

  const another = fakeNode('6.18.0-a', btf);
  await nodeKernelHeaders(another);
  assert.deepEqual(another.asked, [{ digestOnly: true }], 'a new session asks its node again');
});

test('a cache entry deleted during a session is noticed: the session asks again', async () => {
  const btf = Buffer.from('pretend BTF of kernel B');
  const dir = vmlinuxCacheDir('6.18.0-b', sha(btf));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'vmlinux.h'), '/* cached */\n');
  writeFileSync(join(dir, 'vmlinux.btf'), btf); // an entry keeps the BTF it was made from
  const session = fakeNode('6.18.0-b', btf);
  await nodeKernelHeaders(session);
  rmSync(join(dir, 'vmlinux.h'));
  // Missing now: the next call asks the digest and then the BTF (which cannot become a
  // header: it is not BTF, so bpftool fails), and the failure is not remembered.
  await assert.rejects(nodeKernelHeaders(session));
  assert.deepEqual(session.asked, [{ digestOnly: true }, { digestOnly: true }, {}]);
  await assert.rejects(nodeKernelHeaders(session));
  assert.equal(session.asked.length, 5, 'after a failure the session asks again');
});

test('BTF that does not match the digest its agent gave is refused before anything is generated', async () => {
  const session = fakeNode('6.18.0-c', Buffer.from('these bytes'), sha(Buffer.from('other bytes')));
  await assert.rejects(
    nodeKernelHeaders(session),
    (err: unknown) =>
      err instanceof DfsError && err.code === ErrorCode.Internal && /does not match the digest/.test(err.message),
  );
  assert.deepEqual(session.asked, [{ digestOnly: true }, {}]);
});

test('kernel/btf params: digestOnly is a boolean, nothing else is accepted', () => {
  assert.deepEqual(parseKernelBtf(undefined), {});
  assert.deepEqual(parseKernelBtf({}), {});
  assert.deepEqual(parseKernelBtf({ digestOnly: true }), { digestOnly: true });
  assert.deepEqual(parseKernelBtf({ digestOnly: false }), { digestOnly: false });
  for (const bad of [{ digestOnly: 'yes' }, { digestOnly: 1 }, { release: 'x' }, [], 'x']) {
    assert.throws(
      () => parseKernelBtf(bad),
      (err: unknown) => (err as { code?: number }).code === ErrorCode.BadRequest,
      JSON.stringify(bad),
    );
  }
});
