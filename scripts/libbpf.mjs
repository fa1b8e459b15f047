// The libbpf the agent is built with, pinned: libbpf 1.7.0 from the sources that the crates.io
// crate libbpf-sys 1.7.0+v1.7.0 ships (its libbpf/ folder), checked against the crate's sha256,
// built once as a position-independent static libbpf.a and cached under
// <repo>/.cache/libbpf-1.7.0/ (gitignored):
//   include/bpf/*.h, include/linux/{bpf,bpf_common,btf}.h   headers for the addon AND bpf/
//   lib/libbpf.a                                             linked into dfs_bpf.node
// The addon (remote-agent/native/binding.gyp) and the BPF programs (bpf/Makefile) both take
// their headers from here, so the helpers our programs call and the loader that loads them
// agree. Debian 12's libbpf 1.1.2 segfaults on damaged objects (issue 6).
//
// Used by esbuild.mjs (buildNative) and by binding.gyp; as a command it makes sure the cache is
// built and prints one path on stdout (progress goes to stderr):
//   node scripts/libbpf.mjs [dir|include|lib]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LIBBPF_VERSION = '1.7.0';
const CRATE = 'libbpf-sys-1.7.0+v1.7.0';
/** sha256 of the .crate file, as crates.io's index records it (checked with `cargo fetch`). */
const CRATE_SHA256 = 'a109478760b2900aa2a6f2087e9d0de1d9c535b1758602af2845d5d2ccfaed7c';
const CRATE_URLS = [
  `https://static.crates.io/crates/libbpf-sys/${CRATE}.crate`,
  `https://crates.io/api/v1/crates/libbpf-sys/${CRATE.slice('libbpf-sys-'.length)}/download`,
];
/** Part of the stamp: a change here rebuilds the cache. */
const BUILD_FLAGS = ['BUILD_STATIC_ONLY=1', 'EXTRA_CFLAGS=-fPIC'];

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

function say(msg) {
  process.stderr.write(`[libbpf ${LIBBPF_VERSION}] ${msg}\n`);
}

function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Download the crate to `dest` (curl follows the proxy settings of the environment). */
function download(dest) {
  const errors = [];
  for (const url of CRATE_URLS) {
    try {
      execFileSync('curl', ['-fsSL', '--retry', '2', '--connect-timeout', '20', '-o', `${dest}.part`, url], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      renameSync(`${dest}.part`, dest);
      return;
    } catch (err) {
      const why = err.code === 'ENOENT' ? 'curl is not installed' : err.stderr?.toString().trim() || err.message;
      errors.push(`${url}: ${why}`);
    }
  }
  rmSync(`${dest}.part`, { force: true });
  throw new Error(
    `cannot fetch the libbpf ${LIBBPF_VERSION} sources (${CRATE}.crate):\n  ${errors.join('\n  ')}\n` +
      `Put that file at ${dest} by hand (sha256 ${CRATE_SHA256}) and build again.`,
  );
}

/**
 * Make sure libbpf is built in the cache; returns its paths. Cheap when it is: one stat and a
 * small file read.
 */
export function ensureLibbpf(root = repoRoot) {
  const dir = join(root, '.cache', `libbpf-${LIBBPF_VERSION}`);
  const paths = { dir, include: join(dir, 'include'), lib: join(dir, 'lib'), archive: join(dir, 'lib', 'libbpf.a') };
  const stampFile = join(dir, 'stamp');
  const stamp = JSON.stringify({ crate: CRATE, sha256: CRATE_SHA256, flags: BUILD_FLAGS });
  if (existsSync(paths.archive) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return paths;

  mkdirSync(dir, { recursive: true });
  const crate = join(dir, `${CRATE}.crate`);
  if (!existsSync(crate)) {
    say(`downloading ${CRATE}.crate from crates.io`);
    download(crate);
  }
  const got = sha256(crate);
  if (got !== CRATE_SHA256) {
    rmSync(crate, { force: true });
    throw new Error(`${CRATE}.crate has sha256 ${got}, expected ${CRATE_SHA256}; removed it, build again to refetch`);
  }

  say('building libbpf.a');
  const src = join(dir, 'src');
  const obj = join(dir, 'obj');
  for (const d of [src, obj, paths.include, paths.lib]) rmSync(d, { recursive: true, force: true });
  mkdirSync(src, { recursive: true });
  execFileSync('tar', ['-xzf', crate, '-C', src, '--strip-components=2', `${CRATE}/libbpf`]);
  const make = (...targets) =>
    execFileSync(
      'make',
      [
        '-s',
        '-C',
        join(src, 'src'),
        ...BUILD_FLAGS,
        `OBJDIR=${obj}`,
        `DESTDIR=${dir}`,
        'PREFIX=/',
        'INCLUDEDIR=/include',
        'UAPIDIR=/include',
        ...targets,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
  make('-j2', join(obj, 'libbpf.a'));
  make('install_headers', 'install_uapi_headers');
  mkdirSync(paths.lib, { recursive: true });
  renameSync(join(obj, 'libbpf.a'), paths.archive);
  rmSync(obj, { recursive: true, force: true });
  writeFileSync(stampFile, stamp);
  say(`ready in ${dir}`);
  return paths;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const what = process.argv[2] ?? 'dir';
  try {
    const paths = ensureLibbpf();
    if (!(what in paths)) throw new Error(`usage: node scripts/libbpf.mjs [dir|include|lib|archive]`);
    process.stdout.write(paths[what] + '\n');
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}
