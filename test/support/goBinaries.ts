// Test support: the Go fixture of test/fixtures/go/ built the ways the symbolizer must read
// (JuiceFS's release is the external, static, stripped kind), into out/go-fixtures/<hash>/,
// where the hash covers the sources, the Go version and the build flags: a second call is a
// few stat()s. Needs Go at /usr/local/go/bin/go (or $GO); without it this throws a clear error
// (the machine kind has Go; a test that cannot build its fixture fails, it does not skip).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './repo';

export interface GoFixtureBinaries {
  /** (a) CGO_ENABLED=0, internal link, with symbols: .text is runtime.text. */
  internal: string;
  /** (b) cgo, `-linkmode external -extldflags -static`, with symbols. */
  external: string;
  /** (c) a stripped copy of (b): same addresses, no .symtab. */
  externalStripped: string;
  /** (d) cgo, -buildmode=pie (external link, dynamic), with symbols. */
  pie: string;
  /** (e) a stripped copy of (d). */
  pieStripped: string;
  /** The fixture's source directory (file names in the pcln table are absolute paths in it). */
  sourceDir: string;
}

export function goCommand(): string {
  const go = process.env.GO ?? '/usr/local/go/bin/go';
  if (!existsSync(go))
    throw new Error(`Go is missing at ${go}: the symbolizer tests build a Go fixture (install Go or set $GO)`);
  return go;
}

const VARIANTS: Record<'internal' | 'external' | 'pie', { cgo: string; args: string[] }> = {
  internal: { cgo: '0', args: [] },
  external: { cgo: '1', args: ['-ldflags=-linkmode external -extldflags -static'] },
  pie: { cgo: '1', args: ['-buildmode=pie'] },
};

export function buildGoFixtures(): GoFixtureBinaries {
  const go = goCommand();
  const root = repoRoot();
  const sourceDir = join(root, 'test/fixtures/go');
  const env = { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '', GO111MODULE: 'on', GOPROXY: 'off' };
  const version = execFileSync(go, ['version'], { encoding: 'utf8', env }).trim();
  const hash = createHash('sha256').update(version).update(JSON.stringify(VARIANTS)).update(sourceDir);
  for (const f of readdirSync(sourceDir).sort()) hash.update(f).update(readFileSync(join(sourceDir, f)));
  const dir = join(root, 'out/go-fixtures', hash.digest('hex').slice(0, 16));
  mkdirSync(dir, { recursive: true });
  const out = (name: string): string => join(dir, name);
  for (const [name, v] of Object.entries(VARIANTS)) {
    if (existsSync(out(name))) continue;
    const tmp = out(`${name}.tmp${process.pid}`);
    execFileSync(go, ['build', ...v.args, '-o', tmp, '.'], {
      cwd: sourceDir,
      env: { ...env, CGO_ENABLED: v.cgo },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    renameSync(tmp, out(name)); // whole files only: a parallel or interrupted build never leaves half a binary
  }
  for (const [from, to] of [
    ['external', 'external-stripped'],
    ['pie', 'pie-stripped'],
  ] as const) {
    if (existsSync(out(to))) continue;
    const tmp = out(`${to}.tmp${process.pid}`);
    execFileSync('strip', ['--strip-all', '-o', tmp, out(from)]);
    renameSync(tmp, out(to));
  }
  return {
    internal: out('internal'),
    external: out('external'),
    externalStripped: out('external-stripped'),
    pie: out('pie'),
    pieStripped: out('pie-stripped'),
    sourceDir,
  };
}
