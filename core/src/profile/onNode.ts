/**
 * Profiling a node from a client (the CLI and the extension share it): start a profile through
 * the agent, relay its live `profile/update`s, stop it after the duration, on cancel, when a
 * workload run meanwhile ends, or take the Profile the agent kept when it ended the profile by
 * itself; and "bypass off vs on": one workload profiled once without and once with the bypass,
 * with the workload's own figures beside. Talks to a NodeSession, so it is not a pure module.
 */

import {
  BypassAttachRequest,
  BypassDetachRequest,
  BypassStatusRequest,
  ErrorCode,
  PROFILE_LIMITS,
  ProfileStartRequest,
  ProfileStopRequest,
  ProfileUpdateNotification,
  type OffOnFigures,
  type Profile,
  type ProfileStarted,
  type ProfileUpdate,
} from '@dfs/protocol';
import type { NodeSession } from '../agent/session';
import { DfsError } from '../errors';
import { runWorkload, type WorkloadRun, type WorkloadSpec } from './workloads';

export interface ProfileRunOptions {
  /** How long to profile, s (with `during`: the most it may take). */
  durationS: number;
  mountpoint?: string;
  slowRequestUs?: number;
  /** Take stacks at one context switch in N (the agent's default when absent). */
  stackSampleEvery?: number;
  stacks?: boolean;
  /** Live cumulative histograms, about once a second. */
  onUpdate?: (u: ProfileUpdate) => void;
  onStarted?: (s: ProfileStarted) => void;
  /** Stop early (the Profile so far is still returned). */
  signal?: AbortSignal;
  /** Run this while profiling; the profile stops when it settles. */
  during?: () => Promise<unknown>;
}

/** Check a duration from a user (CLI flag, input box) against the agent's limits. */
export function checkDuration(s: number): number {
  const { min, max } = PROFILE_LIMITS.maxDurationS;
  if (!Number.isFinite(s) || s < min || s > max) {
    throw new DfsError(ErrorCode.BadRequest, `the profile duration must be ${min}–${max} s, not ${s}`);
  }
  return s;
}

/** Profile the session's node; the Profile is labelled with the node as the client names it. */
export async function profileNode(session: NodeSession, opts: ProfileRunOptions): Promise<Profile> {
  const durationS = checkDuration(opts.durationS);
  let wake: () => void = () => undefined;
  const woken = new Promise<void>((r) => (wake = r));
  let profileId: string | undefined;
  const sub = session.agent.onNotification(ProfileUpdateNotification, (u) => {
    if (profileId !== undefined && u.profileId !== profileId) return;
    opts.onUpdate?.(u);
    if (u.ended !== undefined) wake();
  });
  const onAbort = (): void => wake();
  opts.signal?.addEventListener('abort', onAbort);
  try {
    const started = await session.request(ProfileStartRequest, {
      mountpoint: opts.mountpoint,
      slowRequestUs: opts.slowRequestUs,
      stackSampleEvery: opts.stackSampleEvery,
      stacks: opts.stacks,
      // The agent's own stop is the backstop if this client stalls; ours comes first.
      maxDurationS: Math.min(PROFILE_LIMITS.maxDurationS.max, Math.ceil(durationS) + 30),
    });
    profileId = started.profileId;
    opts.onStarted?.(started);
    let timer: NodeJS.Timeout | undefined;
    const workload = opts.during?.();
    let workloadError: Error | undefined;
    try {
      await Promise.race([
        woken,
        new Promise<void>((r) => (timer = setTimeout(r, durationS * 1000))),
        ...(workload
          ? [
              workload.then(
                () => undefined,
                (err: unknown) => void (workloadError = err instanceof Error ? err : new Error(String(err))),
              ),
            ]
          : []),
        ...(opts.signal?.aborted ? [Promise.resolve()] : []),
      ]);
    } finally {
      clearTimeout(timer);
    }
    const profile = await session.request(ProfileStopRequest, { profileId });
    if (workloadError !== undefined) throw workloadError;
    return { ...profile, node: session.target.label };
  } finally {
    sub.dispose();
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

export interface OffOnResult {
  off: Profile;
  on: Profile;
  /** The workload's own figures (the viewer shows them beside the differential view). */
  figures: OffOnFigures;
}

/**
 * Run `workload` over SSH as the node's user twice, profiled: once with the bypass off, once
 * on. A bypass the user had attached stays as it was found: "off" needs it detached, so a
 * bypass owned by someone else is refused rather than removed.
 */
export async function profileBypassOffOn(
  session: NodeSession,
  workload: WorkloadSpec,
  opts: Omit<ProfileRunOptions, 'during' | 'durationS'> & {
    maxDurationS: number;
    progress?: (what: string) => void;
  },
): Promise<OffOnResult> {
  const before = await session.request(BypassStatusRequest, {});
  if (before.attached) {
    throw new DfsError(
      ErrorCode.Conflict,
      `a bypass is already attached (${before.owner}) on ${before.mountpoint ?? 'the node'}; detach it first so that "off" means off`,
    );
  }
  const mountpoint = opts.mountpoint ?? session.info.juicefs[0]?.mountpoint;
  if (mountpoint === undefined) {
    throw new DfsError(ErrorCode.NotFound, `no JuiceFS mount on ${session.target.label} to run the workload on`);
  }
  const side = async (label: 'off' | 'on'): Promise<{ profile: Profile; run: WorkloadRun }> => {
    opts.progress?.(`bypass ${label}: running ${workload.name} under the profiler`);
    let run: WorkloadRun | undefined;
    const profile = await profileNode(session, {
      ...opts,
      mountpoint,
      durationS: opts.maxDurationS,
      during: async () => {
        run = await runWorkload(session, workload, mountpoint, opts.signal);
      },
    });
    if (!run) throw new DfsError(ErrorCode.Cancelled, `the ${workload.name} run was cancelled`);
    return { profile, run };
  };
  const off = await side('off');
  await session.request(BypassAttachRequest, { mountpoint });
  let on: { profile: Profile; run: WorkloadRun };
  try {
    on = await side('on');
  } catch (err) {
    await session.request(BypassDetachRequest, {}).catch(() => undefined);
    throw err;
  }
  const detached = await session.request(BypassDetachRequest, {});
  return {
    off: off.profile,
    on: on.profile,
    figures: {
      workload: workload.name,
      description: workload.description,
      unit: workload.unit,
      off: { value: off.run.ops_per_s, seconds: off.run.seconds },
      on: { value: on.run.ops_per_s, seconds: on.run.seconds },
      ratio: on.run.ops_per_s / off.run.ops_per_s,
      redirected_msgs: detached.counters.redirected_msgs,
    },
  };
}
