/**
 * `dfs-ebpf maps list|dump|update|delete` (DESIGN.md §7): the node's maps, and one map's
 * entries decoded through BTF (struct fields by name, arrays, numbers; per-CPU values as one
 * element per CPU). update and delete take KEY and VALUE as JSON in the shape dump prints,
 * checked against the map's types before anything is written. A map that is not ours is
 * written only with --yes (the user's confirmation).
 */

import { ErrorCode, type MapSummary } from '@dfs/protocol';
import { DfsError } from '@dfs/core/errors';
import { deleteEntry, dumpEntries, listMaps, openCodecs, resolveMap, updateEntry } from '@dfs/core/inspect/onNode';
import { UsageError, type Parsed } from '../args';
import { printJson, printLines, report, type Io } from '../output';
import { openSession } from '../session';

function json(text: string | undefined, what: string): unknown {
  if (text === undefined) throw new UsageError(`${what} is required (JSON)`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new DfsError(ErrorCode.BadRequest, `${what} is not JSON: ${(err as Error).message}`);
  }
}

const SUMMARY_FIELDS = ['id', 'name', 'type', 'key_size', 'value_size', 'max_entries'] as const;

/** A map as `maps list --json` prints it (DESIGN.md §7's fields, then `ours`); `dump` prints the same. */
function summaryJson(m: MapSummary): Record<string, unknown> {
  return { ...Object.fromEntries(SUMMARY_FIELDS.map((f) => [f, m[f]])), ours: m.ours };
}

export async function mapsCommand(p: Parsed, io: Io): Promise<number> {
  const [, verb, mapRef, keyText, valueText] = p.positionals;
  if (verb !== 'list' && verb !== 'dump' && verb !== 'update' && verb !== 'delete') {
    throw new UsageError('maps list | maps dump MAP | maps update MAP KEY VALUE | maps delete MAP KEY');
  }
  if (verb !== 'list' && mapRef === undefined) throw new UsageError(`maps ${verb}: MAP (a name or an id) is required`);
  // Check the JSON before connecting: a typo costs nothing.
  const key = verb === 'update' || verb === 'delete' ? json(keyText, 'KEY') : undefined;
  const value = verb === 'update' ? json(valueText, 'VALUE') : undefined;
  const session = await openSession(p, io);
  try {
    if (verb === 'list') {
      const maps = await listMaps(session);
      report(io, { maps: maps.map(summaryJson) }, [
        'id      type             key  value  max_entries  name',
        ...maps.map(
          (m) =>
            `${String(m.id).padEnd(7)} ${m.type.padEnd(16)} ${String(m.key_size).padStart(3)}  ${String(m.value_size).padStart(5)}  ${String(m.max_entries).padStart(11)}  ${m.name}${m.ours ? '  (ours)' : ''}`,
        ),
      ]);
      return 0;
    }
    const summary = await resolveMap(session, mapRef ?? '');
    const codecs = await openCodecs(session, summary.id);
    const confirmedNotOurs = p.flags.has('yes');
    if (verb === 'dump') {
      const entries = await dumpEntries(session, codecs);
      report(io, { map: summaryJson(summary), entries }, [
        `map ${summary.id} ${summary.name} (${summary.type}): ${entries.length} entries; key ${codecs.key.typeName}, value ${codecs.value.typeName}`,
        ...entries.map((e) => `${JSON.stringify(e.key)} => ${JSON.stringify(e.value)}`),
      ]);
      return 0;
    }
    if (!summary.ours && !confirmedNotOurs) {
      throw new DfsError(
        ErrorCode.PermissionDenied,
        `map ${summary.id} (${summary.name}) belongs to programs that are not ours; add --yes to change it anyway`,
      );
    }
    if (verb === 'update') {
      await updateEntry(session, codecs, key, value, { confirmedNotOurs });
    } else {
      await deleteEntry(session, codecs, key, { confirmedNotOurs });
    }
    if (io.json)
      printJson({ map: { id: summary.id, name: summary.name }, [verb === 'update' ? 'updated' : 'deleted']: { key } });
    else printLines([`map ${summary.id} ${summary.name}: ${verb === 'update' ? 'entry written' : 'entry deleted'}`]);
    return 0;
  } finally {
    session.close();
  }
}
