/**
 * `dfs-ebpf new program KIND NAME [--dir DIR]` and `dfs-ebpf new workspace DIR`: the starting
 * points of core/src/editing/templates.ts from a terminal (the palette's "New eBPF program…" and
 * "Create bypass workspace…"). `new program` without KIND lists the templates. Nothing is
 * overwritten: an existing file stops the command before anything is written.
 */

import { resolve } from 'node:path';
import { bypassWorkspace, listTemplates, renderProgram, writeAll } from '@dfs/core/editing/templates';
import { UsageError, value, type Parsed } from '../args';
import { printJson, printLines, type Io } from '../output';
import { templatesDir } from '../paths';

export function newCommand(p: Parsed, io: Io): number {
  const [, what, a, b] = p.positionals;
  const templates = templatesDir();
  if (what === 'program') {
    if (!a) {
      const list = listTemplates(templates);
      if (io.json) printJson({ templates: list });
      else printLines(list.map((t) => `${t.kind.padEnd(22)} ${t.label}: ${t.description}`));
      return 0;
    }
    if (!b) throw new UsageError('new program KIND NAME [--dir DIR]: the program needs a name');
    const dir = resolve(value(p, 'dir') ?? '.');
    const written = writeAll(dir, renderProgram(templates, a, b));
    if (io.json) printJson({ files: written });
    else printLines(written.map((f) => `wrote ${f}`));
    return 0;
  }
  if (what === 'workspace') {
    if (!a) throw new UsageError('new workspace DIR: where to create it');
    const written = writeAll(resolve(a), bypassWorkspace(templates));
    if (io.json) printJson({ files: written });
    else
      printLines([...written.map((f) => `wrote ${f}`), `open ${resolve(a)} in VS Code, or: cd ${a} && dfs-ebpf build`]);
    return 0;
  }
  throw new UsageError('new program [KIND NAME [--dir DIR]] | new workspace DIR');
}
