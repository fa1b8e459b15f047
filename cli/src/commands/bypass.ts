/**
 * `dfs-ebpf attach bypass`, `detach bypass` and `status` (DESIGN.md §7).
 * The CLI process exits after a command, so `attach bypass` pins the bypass in bpffs by
 * default (it stays until `detach bypass`); `--hold` instead keeps it owned by this process
 * until Ctrl-C, SIGTERM or `--duration`, and releases it then.
 */

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import {
  BypassAttachRequest,
  BypassDetachRequest,
  BypassStatusRequest,
  ErrorCode,
  type BypassAttachParams,
  type BypassStatus,
} from '@dfs/protocol';
import type { NodeSession } from '@dfs/core/agent/session';
import { buildForNode } from '@dfs/core/build/forNode';
import { DfsError } from '@dfs/core/errors';
import { targetAddress } from '@dfs/core/ssh/target';
import { parseEndpoints } from '@dfs/core/util/endpoints';
import { numberValue, UsageError, value, type Parsed } from '../args';
import { report, type Io } from '../output';
import { openSession } from '../session';

/** The `bypass` object of `status --json`: contract keys first, then the detail. */
export function bypassDoc(b: BypassStatus): Record<string, unknown> {
  return {
    attached: b.attached,
    redirected_msgs: b.counters.redirected_msgs,
    redirected_bytes: b.counters.redirected_bytes,
    misses: b.counters.misses,
    errors: b.counters.errors,
    sockets_added: b.counters.sockets_added,
    sockets_skipped: b.counters.sockets_skipped,
    adopted_sockets: b.adoptedSockets,
    remote_left_at_attach: b.remoteLeftAtAttach,
    owner: b.owner,
    cgroup: b.cgroup,
    mountpoint: b.mountpoint,
    endpoints: b.endpoints,
    programs: b.programs,
    object: b.objectName,
    attached_at: b.attachedAt,
  };
}

function bypassLines(b: BypassStatus): string[] {
  if (!b.attached) return ['bypass: off'];
  const c = b.counters;
  return [
    `bypass: on (${b.owner}) at ${b.cgroup}`,
    `  endpoints  ${b.endpoints.map((e) => `${e.host}:${e.port} (${e.source})`).join(', ')}`,
    `  redirected ${c.redirected_msgs} msgs, ${c.redirected_bytes} bytes; misses ${c.misses}; errors ${c.errors}; sockets ${c.sockets_added}`,
    `  skipped    remote peers: ${c.sockets_skipped} at connect, ${b.remoteLeftAtAttach} open at attach`,
  ];
}

/** The object to attach: a .bpf.o as is, or a .bpf.c built for the node's kernel (core's one build path). */
async function objectParams(
  file: string | undefined,
  session: NodeSession,
): Promise<Pick<BypassAttachParams, 'object' | 'objectName'>> {
  if (file === undefined) return {};
  if (file.endsWith('.c')) {
    const built = (await buildForNode(session, [file])).results[0];
    if (!built?.bytes)
      throw new DfsError(
        ErrorCode.BadObject,
        `${file} does not compile: ${built?.diagnostics[0]?.message ?? built?.stderr.trim() ?? ''}`,
      );
    return { object: built.bytes.toString('base64'), objectName: basename(built.object) };
  }
  try {
    return { object: readFileSync(file).toString('base64'), objectName: basename(file) };
  } catch (err) {
    throw new DfsError(ErrorCode.NotFound, `cannot read ${file}: ${(err as Error).message}`);
  }
}

function waitForStop(durationS: number | undefined, session: NodeSession): Promise<string> {
  return new Promise((resolve) => {
    const onInt = (): void => done('SIGINT');
    const onTerm = (): void => done('SIGTERM');
    const timer =
      durationS === undefined ? undefined : setTimeout(() => done(`${durationS} s elapsed`), durationS * 1000);
    function done(why: string): void {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      clearTimeout(timer);
      resolve(why);
    }
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
    session.onClose((why) => done(`connection lost: ${why}`));
  });
}

export async function attachCommand(p: Parsed, io: Io): Promise<number> {
  if (p.positionals[1] !== 'bypass')
    throw new UsageError(
      'usage: dfs-ebpf attach bypass [--node NODE] [--mount PATH] [--object FILE] [--extra HOST:PORT]... [--hold [--duration S]] [--json]',
    );
  const hold = p.flags.has('hold');
  const duration = numberValue(p, 'duration', 0.1, 7 * 86400);
  if (duration !== undefined && !hold) throw new UsageError('--duration needs --hold');
  const session = await openSession(p, io);
  try {
    const params: BypassAttachParams = {
      ...(await objectParams(value(p, 'object'), session)),
      extraEndpoints: parseEndpoints(p.values.get('extra') ?? [], '--extra'),
      pin: !hold,
    };
    const mount = value(p, 'mount');
    if (mount !== undefined) params.mountpoint = mount;
    const status = await session.request(BypassAttachRequest, params);
    report(
      io,
      { node: { name: session.target.label, ssh: targetAddress(session.target) }, bypass: bypassDoc(status) },
      [`attached on ${session.target.label}`, ...bypassLines(status)],
    );
    if (!hold) return 0;
    const why = await waitForStop(duration, session);
    if (session.isClosed)
      throw new DfsError(ErrorCode.ConnectionLost, `lost the node while holding the bypass (${why}); it was released`);
    const final = await session.request(BypassDetachRequest, {});
    process.stderr.write(
      `detached (${why}) after ${final.counters.redirected_msgs} redirected messages, ${final.counters.redirected_bytes} bytes\n`,
    );
    return 0;
  } finally {
    session.close();
  }
}

export async function detachCommand(p: Parsed, io: Io): Promise<number> {
  if (p.positionals[1] !== 'bypass') throw new UsageError('usage: dfs-ebpf detach bypass [--node NODE] [--json]');
  const session = await openSession(p, io);
  try {
    const final = await session.request(BypassDetachRequest, {});
    report(io, { node: { name: session.target.label }, bypass: bypassDoc(final) }, [
      `bypass detached on ${session.target.label} after ${final.counters.redirected_msgs} redirected messages`,
    ]);
    return 0;
  } finally {
    session.close();
  }
}

export async function statusCommand(p: Parsed, io: Io): Promise<number> {
  const session = await openSession(p, io);
  try {
    const b = await session.request(BypassStatusRequest, {});
    const i = session.info;
    const missing = i.features.filter((f) => !f.supported).map((f) => f.name);
    report(
      io,
      {
        node: { name: session.target.label, ssh: targetAddress(session.target) },
        agent: {
          version: i.agentVersion,
          protocolVersion: i.protocolVersion,
          libbpf: i.libbpfVersion,
          runtime: i.runtime,
        },
        kernel: { ...i.kernel, features: i.features },
        juicefs: i.juicefs,
        bypass: bypassDoc(b),
      },
      [
        `node ${session.target.label} (${targetAddress(session.target)}): kernel ${i.kernel.release}, agent ${i.agentVersion}, libbpf ${i.libbpfVersion}`,
        `  missing kernel features: ${missing.join(', ') || 'none'}`,
        ...i.juicefs.map(
          (m) => `  juicefs ${m.mountpoint} (${m.volume}, ${m.version}) meta ${m.meta} bucket ${m.bucket}`,
        ),
        ...bypassLines(b),
      ],
    );
    return 0;
  } finally {
    session.close();
  }
}
