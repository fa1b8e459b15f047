/**
 * Starting points that work (issue 10): "New eBPF program" renders one of the templates in
 * `bpf/templates/<kind>/` (a `.bpf.c` and its shared header, named after the placeholder
 * program name `dfs_prog`, listed in `bpf/templates/templates.json`) under the user's name, and
 * "Create bypass workspace" lays out the reference bypass and profiler (`bpf/*.bpf.c`, copied
 * into `<templates>/workspace/bpf/` at build time: esbuild.mjs) with the files of
 * `bpf/templates/workspace/` (README, `.vscode` settings, tasks, recommended extensions,
 * `.gitignore`). The same functions serve the CLI (`dfs-ebpf new …`) and the extension; the
 * templates directory is theirs to give (dist/templates beside each bundle). Writing is all or
 * nothing: an existing file is never overwritten, and then nothing is written.
 */

import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';

export interface TemplateInfo {
  kind: string;
  label: string;
  description: string;
  /** Where it attaches, in a few words. */
  attach: string;
}

/** A file to write: its path relative to the target directory, and its text. */
export interface RenderedFile {
  path: string;
  text: string;
}

/** The placeholder program name the templates are written with (whole word), and its upper case. */
export const PLACEHOLDER = 'dfs_prog';

const C_KEYWORDS = new Set(
  'auto break case char const continue default do double else enum extern float for goto if inline int long register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while'.split(
    ' ',
  ),
);

/** Why `name` cannot name a program (a C identifier the files and maps are named after), or null. */
export function programNameProblem(name: string): string | null {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return `"${name}" is not a C identifier (letters, digits, _)`;
  if (name.length > 32) return `"${name}" is longer than 32 characters`;
  if (C_KEYWORDS.has(name)) return `"${name}" is a C keyword`;
  return null;
}

export function listTemplates(templatesDir: string): TemplateInfo[] {
  const file = join(templatesDir, 'templates.json');
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { templates: TemplateInfo[] }).templates;
  } catch (err) {
    throw new DfsError(ErrorCode.NotFound, `the program templates are missing (${file}): ${(err as Error).message}`);
  }
}

/** Every file under `dir`, relative to it, sorted. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** The template of `kind` rendered for a program called `name`. */
export function renderProgram(templatesDir: string, kind: string, name: string): RenderedFile[] {
  const problem = programNameProblem(name);
  if (problem) throw new DfsError(ErrorCode.BadRequest, `cannot name a program so: ${problem}`);
  const known = listTemplates(templatesDir);
  if (!known.some((t) => t.kind === kind)) {
    throw new DfsError(
      ErrorCode.BadRequest,
      `no template "${kind}"; there are: ${known.map((t) => t.kind).join(', ')}`,
    );
  }
  const dir = join(templatesDir, kind);
  // The placeholder starts names (`dfs_prog_counts`, `DFS_PROG_H`): replaced wherever it begins a word.
  const word = new RegExp(`\\b${PLACEHOLDER}(?![A-Za-z0-9])`, 'g');
  const upper = new RegExp(`\\b${PLACEHOLDER.toUpperCase()}(?![A-Za-z0-9])`, 'g');
  return filesUnder(dir).map((f) => ({
    path: f.replace(word, name),
    text: readFileSync(join(dir, f), 'utf8').replace(word, name).replace(upper, name.toUpperCase()),
  }));
}

/** The bypass workspace: the reference programs under bpf/, and README, .vscode/, .gitignore. */
export function bypassWorkspace(templatesDir: string): RenderedFile[] {
  const dir = join(templatesDir, 'workspace');
  if (!existsSync(join(dir, 'bpf', 'bypass.bpf.c'))) {
    throw new DfsError(ErrorCode.NotFound, `the bypass workspace template is missing (${dir})`);
  }
  return filesUnder(dir).map((f) => ({
    // Dot files are stored without their dot (packaging tools skip dot files).
    path: f.replace(/^vscode\//, '.vscode/').replace(/^gitignore$/, '.gitignore'),
    text: readFileSync(join(dir, f), 'utf8'),
  }));
}

/** Write every file under `target`, or none: an existing file stops it before anything is written. */
export function writeAll(target: string, files: RenderedFile[]): string[] {
  const paths = files.map((f) => join(target, f.path));
  const taken = paths.filter((p) => existsSync(p));
  if (taken.length > 0) {
    throw new DfsError(
      ErrorCode.Conflict,
      `${taken.map((p) => relative(target, p)).join(', ')} already exist${taken.length === 1 ? 's' : ''} in ${target}; nothing was written`,
    );
  }
  files.forEach((f, i) => {
    mkdirSync(dirname(paths[i]!), { recursive: true });
    writeFileSync(paths[i]!, f.text, { flag: 'wx' });
  });
  return paths;
}
