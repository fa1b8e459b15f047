// The libbpf the agent is built with, pinned, with what it needs: libbpf 1.7.0, libelf (elfutils
// 0.191) and zlib 1.2.13 from the sources that the crates.io crate libbpf-sys 1.7.0+v1.7.0 ships
// (its libbpf/, elfutils/ and zlib/ folders), checked against the crate's sha256, built once as
// position-independent static archives and cached under <repo>/.cache/libbpf-1.7.0/ (gitignored):
//   include/bpf/*.h, include/linux/{bpf,bpf_common,btf}.h   headers for the addon AND bpf/
//   include/{libelf,gelf,nlist,elf,zlib,zconf}.h            libelf's and zlib's, for libbpf
//   lib/{libbpf,libelf,libz}.a                              linked into dfs_bpf.node
// The addon (remote-agent/native/binding.gyp) and the BPF programs (bpf/Makefile) both take
// their headers from here, so the helpers our programs call and the loader that loads them
// agree. Debian 12's libbpf 1.1.2 segfaults on damaged objects (issue 6); Debian's libelf.a is
// not position-independent (initial-exec TLS), so libelf and zlib are ours too, and the addon
// needs nothing on a node but glibc and libstdc++. Building libelf from a git checkout of
// elfutils takes autoconf, automake, autopoint, flex, bison and gawk (scripts/provision.sh).
//
// Used by esbuild.mjs (buildNative) and by binding.gyp; as a command it makes sure the cache is
// built and prints one path on stdout (progress goes to stderr; the build's own output goes to
// build.log in the cache, whose tail is printed when a step fails):
//   node scripts/libbpf.mjs [dir|include|lib]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
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
/**
 * How each part is built; all of it is part of the stamp, so a change here rebuilds the cache.
 * zlib and libelf get autoconf's default flags plus -fPIC (the addon is a shared object);
 * libbpf keeps its own CFLAGS and gets -fPIC and our include/ on top (never pkg-config's idea of
 * the system's libelf). libelf is built without translations and without the optional
 * compressors, so it needs nothing but zlib and glibc.
 */
const RECIPE = {
  cflags: '-g -O2 -fPIC',
  zlib: ['--static'],
  elfutils: [
    '--enable-maintainer-mode', // a git checkout: generated sources are made, not shipped
    '--enable-install-elfh',
    '--disable-nls',
    '--disable-debuginfod',
    '--disable-libdebuginfod',
    '--disable-demangler',
    '--without-bzlib',
    '--without-lzma',
    '--without-zstd',
  ],
  libbpf: ['BUILD_STATIC_ONLY=1', 'NO_PKG_CONFIG=1', 'EXTRA_CFLAGS=-fPIC -I<include>'],
};

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
 * A runner whose commands write into one log file. A failing command prints the log's tail on
 * stderr and throws one line naming the step and the log.
 */
function logged(logFile) {
  const fd = openSync(logFile, 'w');
  const run = (step, cmd, args, { cwd, env } = {}) => {
    writeSync(fd, `\n### ${step}\n$ ${[cmd, ...args].join(' ')}${cwd ? `  (in ${cwd})` : ''}\n`);
    try {
      execFileSync(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
    } catch (err) {
      const why = err.code === 'ENOENT' ? `${cmd} is not installed (scripts/provision.sh installs it)` : err.message;
      writeSync(fd, `\n${why}\n`);
      const tail = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-25);
      process.stderr.write(tail.map((line) => `  | ${line}\n`).join(''));
      throw new Error(`${step} failed: ${why.split('\n')[0]} (full log: ${logFile})`, { cause: err });
    }
  };
  return { run, close: () => closeSync(fd) };
}

/** Build libz.a, libelf.a and then libbpf.a against their headers, into `paths`. */
function build(crate, paths) {
  const { dir, include, lib } = paths;
  const src = join(dir, 'src');
  const obj = join(dir, 'obj');
  for (const d of [src, obj, include, lib]) rmSync(d, { recursive: true, force: true });
  for (const d of [src, obj, include, lib]) mkdirSync(d, { recursive: true });
  execFileSync('tar', [
    '-xzf',
    crate,
    '-C',
    src,
    '--strip-components=1',
    ...['libbpf', 'zlib', 'elfutils'].map((d) => `${CRATE}/${d}`),
  ]);
  const jobs = `-j${availableParallelism()}`;
  const log = logged(join(dir, 'build.log'));
  try {
    say('building libz.a');
    const zlib = join(src, 'zlib');
    log.run('zlib configure', './configure', RECIPE.zlib, { cwd: zlib, env: { CFLAGS: RECIPE.cflags } });
    log.run('zlib make', 'make', [jobs, 'libz.a'], { cwd: zlib });
    cpSync(join(zlib, 'libz.a'), join(lib, 'libz.a'));
    for (const h of ['zlib.h', 'zconf.h']) cpSync(join(zlib, h), join(include, h));

    say('building libelf.a');
    const elfutils = join(src, 'elfutils');
    log.run('elfutils autoreconf', 'autoreconf', ['--install', '--force'], { cwd: elfutils });
    log.run('elfutils configure', './configure', RECIPE.elfutils, {
      cwd: elfutils,
      env: { CFLAGS: RECIPE.cflags, CPPFLAGS: `-I${include}`, LDFLAGS: `-L${lib}` },
    });
    log.run('libelf make', 'make', [jobs, 'libelf.a'], { cwd: join(elfutils, 'libelf') });
    cpSync(join(elfutils, 'libelf', 'libelf.a'), join(lib, 'libelf.a'));
    // libelf.h gelf.h nlist.h elf.h, exactly the headers elfutils installs for libelf.
    log.run('libelf headers', 'make', ['install-includeHEADERS', `includedir=${include}`], {
      cwd: join(elfutils, 'libelf'),
    });

    say('building libbpf.a');
    const libbpfArgs = [
      '-C',
      join(src, 'libbpf', 'src'),
      ...RECIPE.libbpf.map((flag) => flag.replace('<include>', include)),
      `OBJDIR=${obj}`,
      `DESTDIR=${dir}`,
      'PREFIX=/',
      'INCLUDEDIR=/include',
      'UAPIDIR=/include',
    ];
    log.run('libbpf make', 'make', [...libbpfArgs, jobs, join(obj, 'libbpf.a')]);
    log.run('libbpf headers', 'make', [...libbpfArgs, 'install_headers', 'install_uapi_headers']);
    renameSync(join(obj, 'libbpf.a'), paths.archive);
  } finally {
    log.close();
  }
  // The sources and objects are only needed again for the next build, which extracts afresh.
  for (const d of [src, obj]) rmSync(d, { recursive: true, force: true });
}

/**
 * Make sure libbpf, libelf and zlib are built in the cache; returns their paths (`archive` is
 * libbpf.a). Cheap when they are: a few stats and a small file read.
 */
export function ensureLibbpf(root = repoRoot) {
  const dir = join(root, '.cache', `libbpf-${LIBBPF_VERSION}`);
  const lib = join(dir, 'lib');
  const paths = { dir, include: join(dir, 'include'), lib, archive: join(lib, 'libbpf.a') };
  const archives = [paths.archive, join(lib, 'libelf.a'), join(lib, 'libz.a')];
  const stampFile = join(dir, 'stamp');
  const stamp = JSON.stringify({ crate: CRATE, sha256: CRATE_SHA256, recipe: RECIPE });
  if (archives.every((a) => existsSync(a)) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) {
    return paths;
  }

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

  rmSync(stampFile, { force: true });
  const started = Date.now();
  build(crate, paths);
  writeFileSync(stampFile, stamp);
  say(`ready in ${dir} (${Math.round((Date.now() - started) / 1000)}s)`);
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
