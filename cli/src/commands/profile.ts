/**
 * `dfs-ebpf profile` (DESIGN.md §7): profile the node's JuiceFS for --duration seconds and
 * print or write the Profile (`--format json|folded|speedscope`, `--out FILE`);
 * `profile --compare A B` prints the per-layer and per-frame differences of two profile files
 * (any of the three formats); `profile --off-on [--workload NAME | --command CMD]` profiles a
 * workload with the bypass off, then on, and writes both (`--out` is a prefix then).
 * Ctrl-C stops a running profile early and still prints what was gathered.
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { ErrorCode, PROFILE_DEFAULTS, type Profile, type ProfileExportFormat } from '@dfs/protocol';
import { DfsError } from '@dfs/core/errors';
import { compareProfiles, comparisonTable } from '@dfs/core/profile/compare';
import { exportProfile, perNodeFile, ProfileFileError, readProfileText } from '@dfs/core/profile/files';
import { formatUs } from '@dfs/core/profile/histogram';
import { checkDuration, profileBypassOffOn, profileNode } from '@dfs/core/profile/onNode';
import { profileSummary } from '@dfs/core/profile/summary';
import { BUILTIN_WORKLOADS, commandWorkload, type WorkloadSpec } from '@dfs/core/profile/workloads';
import { numberValue, UsageError, value, type Parsed } from '../args';
import { printJson, printLines, report, type Io } from '../output';
import { openSession } from '../session';

const FORMATS: readonly ProfileExportFormat[] = ['json', 'folded', 'speedscope'];

function formatOf(p: Parsed): ProfileExportFormat {
  const f = value(p, 'format') ?? 'json';
  if (!FORMATS.includes(f as ProfileExportFormat))
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, not "${f}"`);
  return f as ProfileExportFormat;
}

function readProfileFile(file: string): Profile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new DfsError(ErrorCode.NotFound, `cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return readProfileText(text, file).profile;
  } catch (err) {
    if (err instanceof ProfileFileError) throw new DfsError(ErrorCode.BadRequest, err.message);
    throw err;
  }
}

/** Stop on the first Ctrl-C or SIGTERM (the profile so far is kept), exit on the second. */
function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const on = (): void => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write('dfs-ebpf: stopping the profile (again to quit)\n');
    ac.abort();
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}

function workloadOf(p: Parsed): WorkloadSpec {
  const cmd = value(p, 'command');
  const name = value(p, 'workload');
  if (cmd !== undefined && name !== undefined) throw new UsageError('give --workload or --command, not both');
  if (cmd !== undefined) return commandWorkload(cmd);
  const all = BUILTIN_WORKLOADS.map((w) => w());
  const w = all.find((x) => x.name === (name ?? 'juicefs-metadata'));
  if (!w) throw new UsageError(`--workload must be one of ${all.map((x) => x.name).join(', ')}`);
  return w;
}

/** Write `profile` to `out` in `format`, or print it when there is no file. */
function emit(p: Parsed, profile: Profile, format: ProfileExportFormat, out: string | undefined, io: Io): void {
  if (out !== undefined) {
    const file = perNodeFile(out, io.node);
    writeFileSync(file, exportProfile(profile, format, 'dfs-ebpf cli'));
    report(io, { out: file, format, duration_s: profile.duration_s, stacks: profile.stacks.length }, [
      profileSummary(profile),
      '',
      `wrote ${file} (${format})`,
    ]);
    return;
  }
  // Without --json or --format, people get the summary; asked for a format, they get it.
  if (p.values.has('format') || io.json) process.stdout.write(exportProfile(profile, format, 'dfs-ebpf cli'));
  else printLines([profileSummary(profile)]);
}

export async function profileCommand(p: Parsed, io: Io): Promise<number> {
  if (p.positionals.length > 1 && !p.values.has('compare'))
    throw new UsageError(`unexpected "${p.positionals[1] ?? ''}" after profile`);
  const compare = value(p, 'compare');
  if (compare !== undefined) {
    const other = p.positionals[1];
    if (other === undefined || p.positionals.length > 2) throw new UsageError('usage: profile --compare A B');
    const c = compareProfiles(readProfileFile(compare), readProfileFile(other));
    if (io.json) printJson(c);
    else printLines([comparisonTable(c)]);
    return 0;
  }
  const format = formatOf(p);
  const out = value(p, 'out');
  if (io.node !== undefined && out === undefined && !p.flags.has('off-on'))
    throw new UsageError('profiling several nodes writes one file per node: give --out FILE');
  const durationS = checkDuration(numberValue(p, 'duration', 1, 3600) ?? PROFILE_DEFAULTS.durationS);
  const slowRequestUs = numberValue(p, 'slow-us', 1, 60_000_000);
  const stackSampleEvery = numberValue(p, 'stack-every', 1, 1024);
  const stacks = !p.flags.has('no-stacks');
  const session = await openSession(p, io);
  const interrupt = interruptSignal();
  try {
    const base = { mountpoint: value(p, 'mount'), slowRequestUs, stackSampleEvery, stacks, signal: interrupt.signal };
    if (p.flags.has('off-on')) {
      const workload = workloadOf(p);
      const r = await profileBypassOffOn(session, workload, {
        ...base,
        maxDurationS: durationS,
        progress: (what) =>
          io.verbose || (!io.json && process.stderr.isTTY)
            ? process.stderr.write(`… ${io.node ? `${io.node}: ` : ''}${what}\n`)
            : undefined,
      });
      const prefix = perNodeFile(out ?? 'profile', io.node);
      const ext = format === 'folded' ? 'folded' : format === 'speedscope' ? 'speedscope.json' : 'json';
      const files = { off: `${prefix}-off.${ext}`, on: `${prefix}-on.${ext}` };
      writeFileSync(files.off, exportProfile(r.off, format, 'dfs-ebpf cli'));
      writeFileSync(files.on, exportProfile(r.on, format, 'dfs-ebpf cli'));
      const f = r.figures;
      const comparison = compareProfiles(r.off, r.on);
      report(io, { ...f, files, comparison }, [
        `${f.workload}: off ${f.off.value.toFixed(1)} ${f.unit} (${f.off.seconds.toFixed(2)} s), on ${f.on.value.toFixed(1)} (${f.on.seconds.toFixed(2)} s): ${f.ratio.toFixed(3)}x, ${f.redirected_msgs} messages redirected`,
        `wrote ${files.off} and ${files.on}`,
        '',
        comparisonTable(comparison),
      ]);
      return 0;
    }
    const profile = await profileNode(session, {
      ...base,
      durationS,
      onUpdate: (u) => {
        if (io.json || !(io.verbose || process.stderr.isTTY)) return;
        const fuse = u.histograms.filter((h) => h.layer === 'fuse' && (h.phase ?? 'total') === 'total');
        const n = fuse.reduce((s, h) => s + h.count, 0);
        const mean = n > 0 ? fuse.reduce((s, h) => s + h.sum_ns, 0) / n / 1000 : Number.NaN;
        process.stderr.write(
          `… ${io.node ? `${io.node}: ` : ''}${u.elapsed_s.toFixed(0)} s: ${n} FUSE requests, mean ${formatUs(mean)}, ${u.stacks} stacks\n`,
        );
      },
    });
    emit(p, profile, format, out, io);
    return 0;
  } finally {
    interrupt.dispose();
    session.close();
  }
}
