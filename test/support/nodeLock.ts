// Test support: local node operations (up, down) take a machine-wide lock and fail at once with
// Conflict while another process holds it; tests of several files that run at the same time
// wait for it instead (bounded), so they only fail for their own reasons.
import { DfsError } from '../../core/src/errors';

const WAIT_MS = 10 * 60_000;

export async function whenNodeLockFree<T>(fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const busy = err instanceof DfsError && /another local node operation is running/.test(err.message);
      if (!busy || Date.now() - t0 > WAIT_MS) throw err;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}
