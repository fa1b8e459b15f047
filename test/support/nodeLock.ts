// Local-node operations (up, down) take a machine-wide lock and fail at once with a Conflict
// while another process holds it. Test files of other engineers bring their nodes up and down
// at the same time on this machine, so tests wait for the lock instead (bounded).
import { ErrorCode } from '../../protocol/src';
import { DfsError } from '../../core/src/errors';

/** Runs `op`, retrying every 3 s while another local-node operation holds the lock (at most `maxMs`). */
export async function whenNodeLockFree<T>(op: () => Promise<T>, maxMs = 15 * 60_000): Promise<T> {
  for (const deadline = Date.now() + maxMs; ;) {
    try {
      return await op();
    } catch (err) {
      const busy =
        err instanceof DfsError && err.code === ErrorCode.Conflict && /another local node operation/.test(err.message);
      if (!busy || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 3000));
    }
  }
}
