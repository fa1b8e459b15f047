/**
 * The clock of a running profile: sends a cumulative `profile/update` every updateIntervalMs
 * and ends the profile by itself when maxDurationS is reached or the JuiceFS daemon exits
 * (the manager then sends the last update, with `ended`, and keeps the Profile for
 * profile/stop). Owns its timers and its ProfileSession; stop() and dispose() clear both.
 */

import type { Profile, ProfileUpdate } from '@dfs/protocol';
import { existsSync } from 'node:fs';
import type { AgentLog } from '../log';
import type { ProfileSession } from './session';

export class RunningProfile {
  private interval: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    readonly session: ProfileSession,
    private readonly log: AgentLog,
    updateIntervalMs: number,
    maxDurationS: number,
    private readonly notify: (u: ProfileUpdate) => void,
    /** Called once when the profile should end by itself; the owner calls end() then. */
    onEnd: (why: string) => void,
  ) {
    const pid = session.target.mount.pid;
    this.interval = setInterval(() => {
      if (!existsSync(`/proc/${pid}`)) {
        this.clearTimers();
        onEnd(`the JuiceFS daemon (pid ${pid}) exited`);
        return;
      }
      try {
        this.notify(session.update());
      } catch (err) {
        this.log.warn('profile', `reading profile ${session.id} for an update failed: ${(err as Error).message}`);
      }
    }, updateIntervalMs);
    this.deadline = setTimeout(() => {
      this.clearTimers();
      onEnd(`maxDurationS (${maxDurationS} s) reached`);
    }, maxDurationS * 1000);
  }

  get id(): string {
    return this.session.id;
  }

  private clearTimers(): void {
    clearInterval(this.interval);
    clearTimeout(this.deadline);
    this.interval = undefined;
    this.deadline = undefined;
  }

  /** Stop, read the Profile and unload. */
  stop(): Profile {
    this.clearTimers();
    return this.session.stop();
  }

  /** Ended by itself: the last update (with `ended`), then the Profile. */
  end(why: string): Profile {
    this.clearTimers();
    try {
      this.notify(this.session.update(why));
    } catch (err) {
      this.log.warn('profile', `the last update of profile ${this.id} failed: ${(err as Error).message}`);
    }
    return this.session.stop();
  }

  /** Release without reading (shutdown); synchronous. */
  dispose(): void {
    this.clearTimers();
    this.session.release();
  }
}
