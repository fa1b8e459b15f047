// The node lock (remote-agent/src/lock.ts) on a scratch file: exclusive across open file
// descriptions (so across agents), bounded waits, release, and released by the kernel when
// its holder dies, however it dies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tryLockNode } from '../../remote-agent/src/lock';

test('the node lock is exclusive, waits a bounded time, and is free again after release', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dfs-lock-'));
  const file = join(dir, 'sub', 'node.lock');
  try {
    const a = await tryLockNode(0, file);
    assert.ok(a, 'a free lock is taken');
    assert.equal(await tryLockNode(0, file), null, 'a second holder is refused at once');
    const t0 = Date.now();
    assert.equal(await tryLockNode(300, file), null, 'and after a bounded wait');
    assert.ok(Date.now() - t0 >= 250, 'it did wait');
    const waiting = tryLockNode(5000, file);
    setTimeout(() => a.release(), 100);
    const b = await waiting;
    assert.ok(b, 'a waiter gets the lock when it is released');
    b.release();
    b.release(); // idempotent
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the node lock dies with the process that holds it (SIGKILL)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dfs-lock-'));
  const file = join(dir, 'node.lock');
  try {
    // A holder like an agent: the lock is on its own fd, no helper process keeps it.
    const holder = spawn('sh', ['-c', 'exec 9>>"$1"; flock 9; echo locked; exec sleep 60', 'sh', file], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((r) => holder.stdout.once('data', () => r()));
    assert.equal(await tryLockNode(0, file), null, 'held by the other process');
    const exited = new Promise((r) => holder.once('exit', r));
    holder.kill('SIGKILL');
    await exited;
    const mine = await tryLockNode(0, file);
    assert.ok(mine, 'free once its holder is dead');
    mine.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
