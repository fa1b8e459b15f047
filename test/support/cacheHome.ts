// A temporary XDG_CACHE_HOME for the tests of one file (the vmlinux.h cache and the editing
// facts cached beside it live under it): set before the file's first test, and restored and
// removed after its last.
import { after, before } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Registers the before/after hooks; returns the directory. */
export function tempCacheHome(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const saved = process.env.XDG_CACHE_HOME;
  before(() => (process.env.XDG_CACHE_HOME = dir));
  after(() => {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}
