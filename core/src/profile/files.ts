/**
 * Profile files as the CLI and the extension read and write them: export a Profile as `json`,
 * `folded` or `speedscope` text (DESIGN.md §7 `--format`), read a file of any of those (the
 * format is recognised from the content, not the name), and the viewer's `load` payload of a
 * Profile. Pure: no Node, no DOM, no vscode; callers do the file I/O. Every read fault is a
 * ProfileFileError whose message names the file and the place.
 */

import type { Profile, ProfileExportFormat, ProfilePanelProfile } from '@dfs/protocol';
import { flameToWire, stacksToFlame } from './flame';
import { FoldedImportError, fromFolded, toFolded } from './folded';
import { fromSpeedscope, SPEEDSCOPE_SCHEMA, SpeedscopeImportError, toSpeedscope } from './speedscope';
import { ProfileValidationError, validateProfile } from './validate';

export class ProfileFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${message}`, options);
    this.name = 'ProfileFileError';
  }
}

/** The Profile as the text of `format` (json: pretty, newline-terminated). */
export function exportProfile(p: Profile, format: ProfileExportFormat, exporter?: string): string {
  switch (format) {
    case 'json':
      return JSON.stringify(p, null, 1) + '\n';
    case 'folded':
      return toFolded(p.stacks);
    case 'speedscope': {
      const file = toSpeedscope(p.stacks, { name: p.node || 'profile', sources: p.sources, exporter });
      return JSON.stringify(file) + '\n';
    }
  }
}

export interface ReadProfile {
  profile: Profile;
  format: ProfileExportFormat;
  warnings: string[];
}

/**
 * A profile file's text → a Profile. JSON with speedscope's `$schema` is speedscope, other
 * JSON a Profile (validated), anything else folded stacks (which carry only stacks: the
 * Profile's other fields are empty, its node is the file name).
 */
export function readProfileText(text: string, file: string): ReadProfile {
  const empty = (stacks: Profile['stacks'], sources: Profile['sources'] = {}): Profile => ({
    version: 1,
    node: file,
    mountpoint: '',
    juicefs: '',
    started_at: '',
    duration_s: 0,
    histograms: [],
    stacks,
    sources,
    drops: { events: 0, stacks: 0, inflight: 0 },
    cost: [],
    config: { stacks: true, slow_request_us: 0 },
  });
  const trimmed = text.trimStart();
  if (trimmed === '')
    throw new ProfileFileError(file, 'the file is empty (no profile, folded stacks or speedscope data)');
  try {
    if (trimmed.startsWith('{')) {
      let doc: unknown;
      try {
        doc = JSON.parse(text) as unknown;
      } catch (err) {
        throw new ProfileFileError(file, `not JSON (${err instanceof Error ? err.message : String(err)})`, {
          cause: err,
        });
      }
      if ((doc as { $schema?: unknown }).$schema === SPEEDSCOPE_SCHEMA) {
        const s = fromSpeedscope(doc);
        return { profile: empty(s.stacks, s.sources), format: 'speedscope', warnings: [] };
      }
      const v = validateProfile(doc);
      return { profile: v.profile, format: 'json', warnings: v.warnings };
    }
    return { profile: empty(fromFolded(text)), format: 'folded', warnings: [] };
  } catch (err) {
    if (err instanceof ProfileFileError) throw err;
    if (
      err instanceof ProfileValidationError ||
      err instanceof SpeedscopeImportError ||
      err instanceof FoldedImportError
    ) {
      throw new ProfileFileError(file, err.message, { cause: err });
    }
    throw err;
  }
}

/** The viewer's form of a Profile (protocol ProfilePanelProfile), labelled `label`. */
export function panelProfile(p: Profile, label: string): ProfilePanelProfile {
  return {
    meta: {
      label,
      node: p.node,
      mountpoint: p.mountpoint,
      juicefs: p.juicefs,
      started_at: p.started_at,
      duration_s: p.duration_s,
      drops: p.drops,
      cost: p.cost,
      ...(p.cost_sampled_s !== undefined ? { cost_sampled_s: p.cost_sampled_s } : {}),
      config: p.config,
    },
    flame: flameToWire(stacksToFlame(p.stacks)),
    histograms: p.histograms,
    withSource: Object.keys(p.sources),
  };
}

/**
 * With several nodes (the CLI's `--node a,b`, "Profile nodes…") each node writes its own file:
 * `prof.json` → `prof-dfsnode1.json`, `run` → `run-dfsnode1`.
 */
export function perNodeFile(file: string, node: string | undefined): string {
  if (node === undefined) return file;
  const m = /^(.*?)((?:\.speedscope)?\.[A-Za-z0-9]+)?$/.exec(file);
  return `${m?.[1] ?? file}-${node}${m?.[2] ?? ''}`;
}
