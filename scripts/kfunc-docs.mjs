// Generates the kfuncs' prose for hovers and completions (BTF gives a kfunc's signature, never
// its documentation) from the kernel-doc comments of a pinned Linux source:
//   core/src/editing/data/kfuncs.json   every `__bpf_kfunc` definition with a kernel-doc comment
//                                       right above it (parseKfuncDocs): summary, description,
//                                       params, returns and the file that defines it (kernel
//                                       markup such as `%true`, `@p` and `func()` kept)
// The source is Debian 12's linux-source-6.12 package, checked against the sha256 pinned below.
// Only the .c files that define kfuncs are kept, under .cache/linux-<version>-kfuncs/
// (gitignored, about 1 MB, with a stamp naming the version); the .deb is deleted once they are out.
// Usage: node scripts/kfunc-docs.mjs [--check | fetch]
//   --check  regenerate in memory and exit 1, naming the file, when the committed one differs.
//   fetch    only make sure the cache exists (idempotent) and print its directory on stdout.
// A kfunc comment that does not read as kernel-doc stops the script with its file and line.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonFile } from './json-format.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outFile = join(root, 'core/src/editing/data/kfuncs.json');

export const KERNEL_VERSION = '6.12.117';
const DEB_PACKAGE = 'linux-source-6.12';
const DEB_VERSION = '6.12.117-1~deb12u1';
const DEB_FILE = `${DEB_PACKAGE}_${DEB_VERSION}_all.deb`;
/** As bookworm-security's Packages index records it (`apt-cache show linux-source-6.12=<version>`). */
const DEB_SHA256 = 'e849faf31ca3555757f3a8877cb01af92122f744f75d1f3102734651c4e14703';
const DEB_URL = `http://deb.debian.org/debian-security/pool/updates/main/l/linux-6.12/${DEB_FILE}`;
/** The tarball inside the .deb, and its top directory. */
const TARBALL = `./usr/src/${DEB_PACKAGE}.tar.xz`;
const TREE = DEB_PACKAGE;
/**
 * The parts of the tree that may define kfuncs (tools/ holds only the selftests' test modules,
 * whose kfuncs no real kernel has). Part of the stamp: a change here refetches.
 */
const DIRS = ['arch', 'block', 'crypto', 'drivers', 'fs', 'io_uring', 'kernel', 'lib', 'mm', 'net', 'security'];
export const SOURCE = `Linux ${KERNEL_VERSION} (Debian ${DEB_PACKAGE} ${DEB_VERSION})`;

function say(msg) {
  process.stderr.write(`[kfunc-docs ${KERNEL_VERSION}] ${msg}\n`);
}

function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * The .deb into `dir`: from the security archive with curl (follows the environment's proxy
 * settings), else through apt (its mirrors and proxy), which needs the package in its lists.
 */
function download(dir) {
  const dest = join(dir, DEB_FILE);
  const errors = [];
  try {
    execFileSync('curl', ['-fsSL', '--retry', '2', '--connect-timeout', '20', '-o', `${dest}.part`, DEB_URL], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    renameSync(`${dest}.part`, dest);
    return dest;
  } catch (err) {
    errors.push(`${DEB_URL}: ${err.code === 'ENOENT' ? 'curl is not installed' : err.stderr?.toString().trim()}`);
    rmSync(`${dest}.part`, { force: true });
  }
  try {
    execFileSync('apt-get', ['download', `${DEB_PACKAGE}=${DEB_VERSION}`], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (existsSync(dest)) return dest;
    errors.push(`apt-get download: no ${DEB_FILE} in ${dir} afterwards`);
  } catch (err) {
    errors.push(
      `apt-get download: ${err.code === 'ENOENT' ? 'apt-get is not installed' : err.stderr?.toString().trim()}`,
    );
  }
  throw new Error(
    `cannot fetch ${DEB_FILE}:\n  ${errors.join('\n  ')}\n` +
      `Put that file at ${dest} by hand (sha256 ${DEB_SHA256}; snapshot.debian.org keeps old versions) and run again.`,
  );
}

/** Every file under `dir`, as paths relative to it with `/`, in code-unit order (deterministic). */
function walk(dir, under = '') {
  return readdirSync(join(dir, under), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(dir, join(under, e.name)) : [join(under, e.name)]))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** `__bpf_kfunc` as a token (not `__bpf_kfunc_start_defs()`). */
const KFUNC_TOKEN = /\b__bpf_kfunc\b/;

/**
 * Extracts the .c files of DIRS that define kfuncs from the .deb into `src`, through pipes: the
 * 150 MB tarball and the 1.4 GB tree never reach the disk whole, only the `*.c` of DIRS do, in a
 * scratch directory removed at the end.
 */
function extract(deb, dir, src) {
  const scratch = join(dir, `scratch-${process.pid}`);
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  try {
    const script =
      'set -o pipefail; dpkg-deb --fsys-tarfile "$1" | tar -xO "$2" | tar -xJ -C "$3" --wildcards "${@:4}"';
    execFileSync('bash', ['-c', script, 'extract', deb, TARBALL, scratch, ...DIRS.map((d) => `${TREE}/${d}/*.c`)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const tree = join(scratch, TREE);
    rmSync(src, { recursive: true, force: true });
    let kept = 0;
    for (const file of walk(tree)) {
      if (!KFUNC_TOKEN.test(readFileSync(join(tree, file), 'utf8'))) continue;
      mkdirSync(dirname(join(src, file)), { recursive: true });
      cpSync(join(tree, file), join(src, file));
      kept++;
    }
    if (kept === 0) throw new Error(`no file of ${DEB_FILE} under ${DIRS.join(', ')} defines a kfunc`);
    return kept;
  } catch (err) {
    const why = err.stderr?.toString().trim();
    throw new Error(`extracting ${DEB_FILE} failed: ${why || err.message}`, { cause: err });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Make sure the cache holds the kfunc-defining .c files of the pinned source; returns the
 * directory they are under (paths below it as in the kernel tree). Cheap when they are there:
 * a stat and a small file read.
 */
export function ensureKernelSources() {
  const dir = join(root, '.cache', `linux-${KERNEL_VERSION}-kfuncs`);
  const src = join(dir, 'src');
  const stampFile = join(dir, 'stamp');
  const stamp = JSON.stringify({ package: DEB_PACKAGE, version: DEB_VERSION, sha256: DEB_SHA256, dirs: DIRS });
  if (existsSync(src) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return src;

  const started = Date.now();
  mkdirSync(dir, { recursive: true });
  rmSync(stampFile, { force: true });
  let deb = join(dir, DEB_FILE);
  if (!existsSync(deb)) {
    say(`downloading ${DEB_FILE}`);
    deb = download(dir);
  }
  const got = sha256(deb);
  if (got !== DEB_SHA256) {
    rmSync(deb, { force: true });
    throw new Error(`${DEB_FILE} has sha256 ${got}, expected ${DEB_SHA256}; removed it, run again to refetch`);
  }
  say(`extracting the .c files that define kfuncs`);
  const kept = extract(deb, dir, src);
  rmSync(deb, { force: true });
  writeFileSync(stampFile, stamp);
  say(`${kept} files in ${src} (${Math.round((Date.now() - started) / 1000)}s)`);
  return src;
}

// ---- kernel-doc --------------------------------------------------------------------------------

class ParseError extends Error {}

/** `file:line: message`, line 1-based. */
function fail(file, line, message) {
  throw new ParseError(`${file}:${line}: ${message}`);
}

/**
 * The comment's first line: `bpf_task_acquire - Acquire ...`, `bpf_task_acquire() - ...`, or
 * `bpf_get_fsverity_digest: read ...` (kernel-doc takes `:` for `-`).
 */
const DOC_HEAD = /^(\w+)(?:\(\))?(?:\s+-+\s*|\s*:\s*)(.*)$/;
/** `@p: The task ...`: a parameter's line (kernel-doc allows `@...:` for varargs). */
const DOC_PARAM = /^@(\w+|\.\.\.)\s*:\s*(.*)$/;
/**
 * The plain `/*` comments of networking kfuncs (see parseKfuncDocs) also write parameters as
 * `@xdp_ctx\t- Pointer to ...` and `@skb_ctx\tPointer to ...`, often below a `Parameters:`
 * line (dropped).
 */
const PLAIN_PARAM = /^@(\w+)(?:\s*:|\s+-(?=\s)|(?=\s))\s*(.*)$/;
const PARAMETERS_HEADER = /^Parameters:$/;
/** kernel-doc's sections that we file apart: `Return:` / `Returns:` and `Description:`. */
const DOC_SECTION = /^(returns?|description)\s*:\s*(.*)$/i;

/** A comment line without its decoration: ` * text` → `text`, ` *\ttext` → `text`, ` *` → ``. */
function undecorate(raw) {
  const m = /^\s*\*(?:[ \t])?(.*)$/.exec(raw);
  return (m ? m[1] : raw.trim()).trimEnd();
}

/** Lines to paragraphs: runs of blank lines become one, none at either end. */
function paragraphs(lines) {
  return lines
    .join('\n')
    .split(/\n{2,}/)
    .map((p) => p.replace(/^\n+|\n+$/g, ''))
    .filter((p) => p !== '')
    .join('\n\n');
}

/** Lines to one line: `Acquire a reference\nto a task.` → `Acquire a reference to a task.` */
const oneLine = (lines) =>
  lines
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' ');

/**
 * The comment `body` (its lines between the opening and `*\/`, undecorated; `at(k)` is the
 * 1-based line of body[k]) above the kfunc `name`. States follow kernel-doc: the summary runs
 * until a blank line, a parameter or a section; a parameter's doc continues until the same; then
 * comes the description, in which `@x:` lines are still parameters; `Return:` runs to the end
 * (or to a `Description:`). Without a `Return:` section, description paragraphs that begin
 * `Returns ...` (the sched_ext style) are the returns. A `/**` comment must open with a
 * kernel-doc head; a plain `/*` one (`kernelDoc` false) counts only when it opens with
 * `<any name> - summary` or `<this kfunc's name>: summary` (`Note: ...` is no head), else null.
 */
function parseComment(body, name, file, at, kernelDoc, notes) {
  let k = body.findIndex((l) => l !== '');
  if (k < 0 && !kernelDoc) return null;
  if (k < 0) fail(file, at(0), `empty kernel-doc comment above ${name}`);
  const head = DOC_HEAD.exec(body[k]);
  if (!kernelDoc && !(head && (head[1] === name || /^\w+(?:\(\))?\s+-/.test(head[0])))) return null;
  if (!head) fail(file, at(k), `expected "${name} - <summary>" opening the kernel-doc comment, got "${body[k]}"`);
  // kernel-doc would warn, but the comment is still this definition's (scx_bpf_dump_bstr's is
  // written for scx_bpf_dump, the BPF-side macro that calls it; bpf_skb_set_xfrm_info's copied
  // from bpf_skb_get_xfrm_info's): kept, and noted.
  if (head[1] !== name) notes.push(`${file}:${at(k)}: the kernel-doc comment of ${name} names ${head[1]}`);
  const summary = [head[2]];
  const params = [];
  const description = [];
  const returns = [];
  let state = 'summary';
  for (k++; k < body.length; k++) {
    const line = body[k];
    const param = (kernelDoc ? DOC_PARAM : PLAIN_PARAM).exec(line);
    const section = DOC_SECTION.exec(line);
    if (!kernelDoc && PARAMETERS_HEADER.test(line)) {
      continue;
    } else if (param) {
      params.push({ name: param[1], doc: [param[2]] });
      state = 'param';
    } else if (section && /^r/i.test(section[1])) {
      returns.push(section[2]);
      state = 'returns';
    } else if (section) {
      description.push('', section[2]);
      state = 'description';
    } else if (state === 'returns') {
      returns.push(line);
    } else if (line === '') {
      description.push('');
      state = 'description';
    } else if (state === 'summary') {
      summary.push(line);
    } else if (state === 'param') {
      params.at(-1).doc.push(line);
    } else {
      description.push(line);
    }
  }
  let prose = paragraphs(description);
  let returnsDoc = paragraphs(returns);
  if (returnsDoc === '') {
    const parts = prose === '' ? [] : prose.split('\n\n');
    const isReturns = (p) => /^Returns\s/.test(p);
    returnsDoc = parts
      .filter(isReturns)
      .map((p) => p.replace(/^Returns\s+/, '').replace(/^[a-z]/, (c) => c.toUpperCase()))
      .join('\n\n');
    prose = parts.filter((p) => !isReturns(p)).join('\n\n');
  }
  const doc = {
    name,
    summary: oneLine(summary),
    description: prose,
    params: params.map((p) => ({ name: p.name, doc: oneLine(p.doc) })),
    returns: returnsDoc,
  };
  if (doc.summary === '') fail(file, at(0), `the kernel-doc comment of ${name} has no summary`);
  return doc;
}

/** Lines a kfunc's declaration may span before its `(`. */
const MAX_DECL_LINES = 4;

/**
 * Every kfunc that `text` (the kernel file `file`) defines with a kernel-doc comment right above
 * it, in file order; only blank lines and `#if` lines may come between. That comment is
 * `/** name - summary ... *\/`, or the same opened with a plain `/*` (the conntrack, NAT, XFRM
 * and FOU kfuncs and bpf_sock_destroy are documented so, in a style kernel-doc does not read:
 * see PLAIN_PARAM). kfuncs without such a comment are left out.
 */
export function parseKfuncDocs(text, file, notes = []) {
  const lines = text.split('\n');
  const docs = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*__bpf_kfunc\b/.test(lines[i])) continue;
    const decl = lines.slice(i, i + MAX_DECL_LINES).join(' ');
    const open = decl.indexOf('(');
    const m = open < 0 ? null : /(\w+)\s*$/.exec(decl.slice(0, open));
    if (!m || m[1] === '__bpf_kfunc') fail(file, i + 1, `cannot read the kfunc's name in "${lines[i]}"`);
    const name = m[1];

    let end = i - 1;
    while (end >= 0 && (lines[end].trim() === '' || /^#\s*if/.test(lines[end]))) end--;
    if (end < 0 || !lines[end].trimEnd().endsWith('*/')) continue;
    let start = end;
    while (start >= 0 && !/^\s*\/\*/.test(lines[start])) start--;
    if (start < 0) fail(file, end + 1, `a comment ends above ${name} but never starts`);
    if (start === end) continue; // a one-line comment
    const kernelDoc = /^\s*\/\*\*(?!\*)/.test(lines[start]);
    const first = lines[start].replace(/^\s*\/\*\*?/, '').trim();
    const body = [...(first === '' ? [] : [first]), ...lines.slice(start + 1, end)].map(undecorate);
    const last = undecorate(lines[end].replace(/\*\/\s*$/, ''));
    if (last !== '') body.push(last);
    const offset = first === '' ? start + 2 : start + 1;
    const doc = parseComment(body, name, file, (k) => offset + k, kernelDoc, notes);
    if (doc) docs.push({ ...doc, file });
  }
  return docs;
}

// ---- output ------------------------------------------------------------------------------------

/** The JSON text, and notes on the kernel-doc worth a maintainer's look (printed when writing). */
function generate() {
  const src = ensureKernelSources();
  const byName = new Map();
  const notes = [];
  for (const file of walk(src)) {
    for (const doc of parseKfuncDocs(readFileSync(join(src, file), 'utf8'), file, notes)) {
      // The first documented definition wins (files in path order, then line order).
      const first = byName.get(doc.name);
      if (first === undefined) byName.set(doc.name, doc);
      else notes.push(`${doc.file}: ${doc.name} is documented again (${first.file} kept)`);
    }
  }
  if (byName.size === 0) throw new ParseError(`no documented kfunc in ${relative(root, src)}`);
  const kfuncs = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { text: jsonFile({ source: SOURCE, kfuncs }), notes };
}

function main() {
  const args = process.argv.slice(2);
  const usage = 'usage: node scripts/kfunc-docs.mjs [--check | fetch]';
  if (args.length > 1 || (args.length === 1 && args[0] !== '--check' && args[0] !== 'fetch')) {
    console.error(`unknown argument ${args.at(-1)}; ${usage}`);
    process.exit(2);
  }
  const rel = relative(root, outFile);
  try {
    if (args[0] === 'fetch') {
      process.stdout.write(ensureKernelSources() + '\n');
      return;
    }
    const { text, notes } = generate();
    if (args[0] === '--check') {
      if (!existsSync(outFile) || readFileSync(outFile, 'utf8') !== text) {
        console.error(`${rel} is stale (it differs from what ${SOURCE} gives): run node scripts/kfunc-docs.mjs`);
        process.exit(1);
      }
    } else {
      for (const note of notes) console.error(`note: ${note}`);
      writeFileSync(outFile, text);
      console.error(`wrote ${rel}`);
    }
  } catch (err) {
    console.error(`kfunc-docs: ${err instanceof ParseError ? 'cannot parse ' : ''}${err.message}`);
    process.exit(1);
  }
}

// Run as a command; importing it (for its parser) does nothing.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
