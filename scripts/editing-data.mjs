// Generates the editing help's data from the pinned libbpf the project builds with
// (scripts/libbpf.mjs, cached under .cache/libbpf-<version>/), so hovers, completions and
// section checks describe exactly the helpers and SEC() names our loader knows:
//   core/src/editing/data/helpers.json   every helper of include/bpf/bpf_helper_defs.h: id, C
//                                        signature, description and return text (kernel markup kept)
//   core/src/editing/data/sections.json  libbpf.c's section_defs[] in table order (order matters:
//                                        libbpf takes the first entry that matches), each with the
//                                        program type name from libbpf's own prog_type_name[]
// libbpf.c is read from the libbpf-sys crate in the cache (the headers are all the build installs).
// Usage: node scripts/editing-data.mjs [--check]
//   --check  regenerate in memory and exit 1, naming the file, when a committed file differs.
// Input that does not parse stops the script with the file and line it could not read.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonFile } from './json-format.mjs';
import { ensureLibbpf, LIBBPF_VERSION } from './libbpf.mjs';

const root = new URL('..', import.meta.url).pathname;
const outDir = join(root, 'core/src/editing/data');

class ParseError extends Error {}

/** `file:line: message`, line 1-based. */
function fail(file, line, message) {
  throw new ParseError(`${file}:${line}: ${message}`);
}

// ---- helpers: bpf_helper_defs.h ------------------------------------------------------------

/**
 * `static <ret> (* const NAME)(ARGS) = (void *) ID;`; `__bpf_fastcall` (a calling-convention
 * attribute on a few helpers) is not part of the C return type.
 */
const HELPER_DECL =
  /^static\s+(?:__bpf_fastcall\s+)?(.+?)\s*\(\*\s*const\s+(\w+)\)\((.*)\)\s*=\s*\(void \*\)\s*(\d+);$/;

/** `const void *key` → {type: 'const void *', name: 'key'}; `...` → {type: '...', name: ''}. */
function parseArg(text, file, line) {
  if (text === '...') return { type: '...', name: '' };
  const m = /^(.*?[\s*])(\w+)$/.exec(text);
  if (!m) fail(file, line, `cannot read helper argument "${text}"`);
  return { type: m[1].trim(), name: m[2] };
}

/** `void *bpf_map_lookup_elem(void *map, const void *key)`: C style, `*` next to the name. */
function signature(h) {
  const decl = (type, name) => (type.endsWith('*') || name === '' ? `${type}${name}` : `${type} ${name}`);
  const args = h.args.length === 0 ? 'void' : h.args.map((a) => decl(a.type, a.name)).join(', ');
  return `${decl(h.returns, h.name)}(${args})`;
}

/** A comment line's text: ` * \ttext` → `text` (one leading tab removed, deeper indentation kept). */
function commentText(raw, file, line) {
  if (raw === ' *') return '';
  if (!raw.startsWith(' * ')) fail(file, line, `expected a " * " comment line, got "${raw}"`);
  const text = raw.slice(3);
  return text.startsWith('\t') ? text.slice(1) : text;
}

/** Drops blank lines at both ends and joins: paragraphs stay separated by one blank line. */
function block(lines) {
  let a = 0;
  let b = lines.length;
  while (a < b && lines[a] === '') a++;
  while (b > a && lines[b - 1] === '') b--;
  return lines.slice(a, b).join('\n');
}

export function parseHelpers(text, file) {
  const lines = text.split('\n');
  const helpers = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('static ')) continue;
    const lineNo = i + 1;
    const m = HELPER_DECL.exec(lines[i]);
    if (!m) fail(file, lineNo, `cannot read helper declaration "${lines[i]}"`);
    const [, returns, name, argText, id] = m;
    // The comment block just above: /*, ` * name`, ` *`, description, ` * Returns`, text, ` */`.
    if (lines[i - 1] !== ' */') fail(file, lineNo - 1, `expected " */" closing the comment of ${name}`);
    let open = i - 2;
    while (open >= 0 && lines[open] !== '/*') {
      if (!lines[open].startsWith(' *')) fail(file, open + 1, `unexpected line inside the comment of ${name}`);
      open--;
    }
    if (open < 0) fail(file, lineNo, `no comment block above ${name}`);
    const body = lines.slice(open + 1, i - 1);
    const at = (k) => open + 2 + k; // 1-based line number of body[k]
    if (body[0] !== ` * ${name}`) fail(file, at(0), `comment names "${body[0]}", the declaration below names ${name}`);
    const ret = body.indexOf(' * Returns');
    if (ret < 0) fail(file, at(0), `no " * Returns" in the comment of ${name}`);
    const description = block(body.slice(1, ret).map((l, k) => commentText(l, file, at(k + 1))));
    const returnsDoc = block(body.slice(ret + 1).map((l, k) => commentText(l, file, at(ret + 1 + k))));
    if (!description) fail(file, at(1), `empty description for ${name}`);
    const args = argText.trim() === 'void' ? [] : argText.split(',').map((a) => parseArg(a.trim(), file, lineNo));
    const helper = { name, id: Number(id), returns, args };
    helpers.push({ ...helper, signature: signature(helper), description, returnsDoc });
  }
  if (helpers.length === 0) fail(file, 1, 'no helper declarations found');
  const seen = new Map();
  for (const h of helpers) {
    if (seen.has(h.id)) throw new ParseError(`${file}: ${h.name} and ${seen.get(h.id)} share id ${h.id}`);
    seen.set(h.id, h.name);
  }
  return helpers.sort((a, b) => a.id - b.id);
}

// ---- sections: libbpf.c section_defs[] -----------------------------------------------------

/** The lines of the C initializer that starts on the line matching `start`, up to its `};`. */
function initializer(lines, start, file) {
  const first = lines.findIndex((l) => start.test(l));
  if (first < 0) fail(file, 1, `no line matching ${start}`);
  const end = lines.indexOf('};', first);
  if (end < 0) fail(file, first + 1, 'initializer does not end with "};"');
  return { first, body: lines.slice(first + 1, end) };
}

/** Strips a trailing or whole-line C comment; entries never contain comment markers. */
const uncomment = (l) => l.replace(/\/\*.*?\*\//g, '').trim();

/** `[BPF_PROG_TYPE_SK_MSG] = "sk_msg",` → Map SK_MSG → sk_msg. */
function parseProgTypeNames(lines, file) {
  const { first, body } = initializer(lines, /^static const char \* const prog_type_name\[\] = \{$/, file);
  const names = new Map();
  body.forEach((raw, k) => {
    const l = uncomment(raw);
    if (l === '') return;
    const m = /^\[BPF_PROG_TYPE_(\w+)\]\s*=\s*"(\w+)",$/.exec(l);
    if (!m) fail(file, first + 2 + k, `cannot read prog_type_name entry "${l}"`);
    names.set(m[1], m[2]);
  });
  return names;
}

/** `SEC_NONE = 0,` …: the flag names libbpf declares. */
function parseSecFlags(lines, file) {
  const { first, body } = initializer(lines, /^enum sec_def_flags \{$/, file);
  const flags = new Set();
  let inComment = false;
  body.forEach((raw, k) => {
    let l = raw.trim();
    if (inComment || l.startsWith('/*')) {
      inComment = !l.includes('*/');
      return;
    }
    l = uncomment(l);
    const m = /^(SEC_\w+)\s*=\s*[\w\s|]+,$/.exec(l);
    if (!m) fail(file, first + 2 + k, `cannot read sec_def_flags entry "${l}"`);
    flags.add(m[1]);
  });
  return flags;
}

const SEC_DEF = /^SEC_DEF\(\s*"([^"]+)"\s*,\s*(\w+)\s*,\s*(\w+)\s*,\s*(\w+(?:\s*\|\s*\w+)*)\s*(?:,\s*(\w+)\s*)?\),$/;

export function parseSections(text, file) {
  const lines = text.split('\n');
  const progTypes = parseProgTypeNames(lines, file);
  const knownFlags = parseSecFlags(lines, file);
  const { first, body } = initializer(lines, /^static const struct bpf_sec_def section_defs\[\] = \{$/, file);
  const sections = [];
  body.forEach((raw, k) => {
    const l = uncomment(raw);
    if (l === '') return;
    const lineNo = first + 2 + k;
    const m = SEC_DEF.exec(l);
    if (!m) fail(file, lineNo, `cannot read section_defs entry "${l}" (one SEC_DEF(...) per line expected)`);
    const [, name, ptype, atype, flagText] = m;
    const progType = progTypes.get(ptype);
    if (progType === undefined) fail(file, lineNo, `BPF_PROG_TYPE_${ptype} is not in prog_type_name[]`);
    if (atype !== '0' && !/^BPF_\w+$/.test(atype)) fail(file, lineNo, `unexpected attach type "${atype}"`);
    const flags = flagText.split('|').map((f) => f.trim());
    for (const f of flags) if (!knownFlags.has(f)) fail(file, lineNo, `unknown flag ${f}`);
    sections.push({
      name,
      progType,
      attachType: atype === '0' ? null : atype,
      flags: flags.filter((f) => f !== 'SEC_NONE'),
    });
  });
  if (sections.length === 0) fail(file, first + 1, 'section_defs[] is empty');
  return sections;
}

// ---- output --------------------------------------------------------------------------------

function crateOf(dir) {
  const crates = readdirSync(dir).filter((f) => f.endsWith('.crate'));
  if (crates.length !== 1) throw new Error(`expected one libbpf-sys .crate in ${dir}, found ${crates.length}`);
  return join(dir, crates[0]);
}

function generate() {
  const { dir, include } = ensureLibbpf(root);
  const headerPath = join(include, 'bpf/bpf_helper_defs.h');
  const header = relative(root, headerPath);
  const helpers = parseHelpers(readFileSync(headerPath, 'utf8'), header);

  const crate = crateOf(dir);
  const member = `${crate.slice(dir.length + 1, -'.crate'.length)}/libbpf/src/libbpf.c`;
  const libbpfC = execFileSync('tar', ['-xzOf', crate, member], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const sections = parseSections(libbpfC, `${relative(root, crate)}:${member}`);

  return new Map([
    [join(outDir, 'helpers.json'), jsonFile({ source: `libbpf ${LIBBPF_VERSION} bpf_helper_defs.h`, helpers })],
    [join(outDir, 'sections.json'), jsonFile({ source: `libbpf ${LIBBPF_VERSION} libbpf.c section_defs`, sections })],
  ]);
}

function main() {
  const check = process.argv.includes('--check');
  const unknown = process.argv.slice(2).filter((a) => a !== '--check');
  if (unknown.length > 0) {
    console.error(`unknown argument ${unknown[0]}; usage: node scripts/editing-data.mjs [--check]`);
    process.exit(2);
  }
  let files;
  try {
    files = generate();
  } catch (err) {
    console.error(`editing-data: ${err instanceof ParseError ? 'cannot parse ' : ''}${err.message}`);
    process.exit(1);
  }
  let stale = 0;
  for (const [path, text] of files) {
    const rel = relative(root, path);
    if (check) {
      if (!existsSync(path) || readFileSync(path, 'utf8') !== text) {
        console.error(
          `${rel} is stale (it differs from what libbpf ${LIBBPF_VERSION} gives): run node scripts/editing-data.mjs`,
        );
        stale++;
      }
    } else {
      mkdirSync(outDir, { recursive: true });
      writeFileSync(path, text);
      console.error(`wrote ${rel}`);
    }
  }
  process.exit(stale > 0 ? 1 : 0);
}

// Run as a command; importing it (for its parsers) does nothing.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
