// The one build script: bundles the extension, CLI and agent (node/cjs), the webviews
// (browser/iife) and the tests, then builds the reference BPF objects (make -C bpf) and the
// agent's libbpf addon (node-gyp) against the pinned, statically linked libbpf that
// scripts/libbpf.mjs fetches and caches, and lays the agent bundle out in dist/agent/.
// Usage: node esbuild.mjs [--watch] [--production] [--skip-native]
// Type checking is separate (npm run typecheck).
import * as esbuild from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ensureLibbpf } from './scripts/libbpf.mjs';

const root = new URL('.', import.meta.url).pathname;
const args = new Set(process.argv.slice(2));
const watch = args.has('--watch');
const production = args.has('--production');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** ssh2 loads optional native crypto with try/catch; the pure-JS path is what we ship. */
const sshOptionalNatives = ['cpu-features', '*.node'];

const nodeCommon = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'warning',
  define: { __DFS_VERSION__: JSON.stringify(pkg.version) },
};

function walk(dir, pred) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p, pred) : pred(p) ? [p] : [];
  });
}

const builds = [
  {
    ...nodeCommon,
    entryPoints: { 'extension/main': 'extension/src/main.ts' },
    outdir: 'dist',
    external: ['vscode', ...sshOptionalNatives],
  },
  {
    ...nodeCommon,
    entryPoints: { 'cli/main': 'cli/src/main.ts' },
    outdir: 'dist',
    external: sshOptionalNatives,
    banner: { js: '#!/usr/bin/env node' },
  },
  {
    ...nodeCommon,
    entryPoints: { 'agent/agent': 'remote-agent/src/main.ts' },
    outdir: 'dist',
    external: ['*.node'],
  },
  {
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    sourcemap: production ? false : 'linked',
    logLevel: 'warning',
    entryPoints: Object.fromEntries(
      walk('webview/src/panels', (p) => p.endsWith('.ts')).map((p) => [
        'webview/' + relative('webview/src/panels', p).replace(/\.ts$/, ''),
        p,
      ]),
    ),
    outdir: 'dist',
  },
];
if (!production) {
  builds.push({
    ...nodeCommon,
    sourcemap: 'inline',
    entryPoints: Object.fromEntries(
      walk('test', (p) => p.endsWith('.ts') && !p.includes('/fixtures/')).map((p) => [p.replace(/\.ts$/, ''), p]),
    ),
    outdir: 'out',
    external: ['vscode', 'mocha', 'playwright-core', '@vscode/test-electron', ...sshOptionalNatives],
  });
}

function buildNative() {
  // The pinned libbpf (downloaded and built once into .cache/), whose headers both builds use.
  const libbpf = ensureLibbpf(root);
  // Reference BPF objects (bpf/Makefile) and the agent's libbpf addon (node-gyp).
  execFileSync('make', ['-s', '-C', 'bpf', `LIBBPF_INCLUDE=${libbpf.include}`], { stdio: 'inherit' });
  const addon = join(root, 'remote-agent/native/build/Release/dfs_bpf.node');
  const inputs = [
    ...walk('remote-agent/native', (p) => /\.(cc|h|gyp)$/.test(p) && !p.includes('/build/')),
    libbpf.archive,
  ];
  const stale = !existsSync(addon) || inputs.some((s) => statSync(s).mtimeMs > statSync(addon).mtimeMs);
  if (stale) {
    execFileSync('npx', ['--no-install', 'node-gyp', 'rebuild', '--directory=remote-agent/native'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  // libbpf must be inside the addon, never the system's libbpf.so (Debian 12's crashes on damaged objects).
  const needed = execFileSync('readelf', ['-d', addon], { encoding: 'utf8' });
  if (/libbpf\.so/.test(needed)) throw new Error(`${addon} links a shared libbpf; it must link ${libbpf.archive}`);
  mkdirSync('dist/agent/bpf', { recursive: true });
  cpSync(addon, 'dist/agent/dfs_bpf.node');
  for (const o of walk('build/bpf', (p) => p.endsWith('.bpf.o'))) {
    const dest = join('dist/agent/bpf', relative('build/bpf', o));
    mkdirSync(dirname(dest), { recursive: true });
    cpSync(o, dest);
  }
  // `build` identifies the exact bundle: clients redeploy when it differs, even at one version.
  const hash = createHash('sha256');
  for (const f of walk('dist/agent', (p) => !p.endsWith('.map') && !p.endsWith('manifest.json')).sort()) {
    hash.update(relative('dist/agent', f)).update(readFileSync(f));
  }
  writeFileSync(
    'dist/agent/manifest.json',
    JSON.stringify(
      { name: 'dfs-ebpf-agent', version: pkg.version, arch: process.arch, build: hash.digest('hex').slice(0, 16) },
      null,
      2,
    ) + '\n',
  );
}

/**
 * Beside the bundles: the pinned libbpf's BPF headers (dist/libbpf/include), and the program
 * templates and the bypass workspace (core/src/editing/templates.ts): bpf/templates/ as it is,
 * plus the reference programs the workspace starts from.
 */
function copyTemplates() {
  // The BPF-side headers of the pinned libbpf, which every build of a user's program includes
  // (core/src/build/clang.ts): the helpers a program calls are those the agent's libbpf loads.
  const include = ensureLibbpf(root).include;
  rmSync('dist/libbpf', { recursive: true, force: true });
  mkdirSync('dist/libbpf/include/bpf', { recursive: true });
  for (const h of [
    'bpf_helpers.h',
    'bpf_helper_defs.h',
    'bpf_tracing.h',
    'bpf_core_read.h',
    'bpf_endian.h',
    'usdt.bpf.h',
  ])
    cpSync(join(include, 'bpf', h), join('dist/libbpf/include/bpf', h));

  rmSync('dist/templates', { recursive: true, force: true });
  cpSync('bpf/templates', 'dist/templates', { recursive: true });
  mkdirSync('dist/templates/workspace/bpf', { recursive: true });
  for (const f of ['bypass.bpf.c', 'bypass.h', 'profile.bpf.c', 'profile.h', 'profile_sys.bpf.h'])
    cpSync(join('bpf', f), join('dist/templates/workspace/bpf', f));
}

process.chdir(root);
if (watch) {
  const ctxs = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(ctxs.map((c) => c.watch()));
  process.stderr.write('esbuild: watching\n');
} else {
  if (production) rmSync('dist', { recursive: true, force: true }); // no stale source maps in the .vsix
  await Promise.all(builds.map((b) => esbuild.build(b)));
  copyTemplates();
  if (!args.has('--skip-native')) {
    try {
      buildNative();
    } catch (err) {
      // make, node-gyp and curl have printed their own output; say which step failed, once.
      process.stderr.write(`esbuild.mjs: native build failed: ${err.message.split('\n').slice(0, 6).join('\n')}\n`);
      process.exit(1);
    }
  }
}
