// Starting points that work, on a real local test node: every "New eBPF program" template,
// rendered under a new name by the CLI (`dfs-ebpf new program`), checks clean and its every
// program is accepted by the node's kernel with no edits; the bypass workspace (`dfs-ebpf new
// workspace`) builds, checks clean and verifies; clangd, given the compile_commands.json our
// build writes, reports no error on any of them, nor on the valid check corpus (vmlinux.h and
// UAPI-header programs). Existing files are never overwritten; a bad name is refused.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeDown } from '../../core/src/testnode';
import { runCli } from '../support/cli';
import { upNode } from '../support/node';
import { repoRoot } from '../support/repo';

const NAME = 'dfsittmpl';
const NODE = ['--node', `local:${NAME}`];
const work = mkdtempSync(join(tmpdir(), 'dfs-templates-'));

before(async () => {
  await upNode(NAME);
});

after(async () => {
  rmSync(work, { recursive: true, force: true });
  await nodeDown({ name: NAME });
});

const json = <T>(r: { code: number; stdout: string; stderr: string }, what: string): T => {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};

/** clangd --check reports no error on `file` (its own summary line: "All checks completed, N errors"). */
function assertClangdClean(file: string, cwd: string): Promise<void> {
  return new Promise((resolve) => {
    execFile('clangd', [`--check=${file}`], { cwd, maxBuffer: 64 << 20 }, (_err, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      const m = /All checks completed, (\d+) errors/.exec(output);
      const errors = output
        .split('\n')
        .filter((l) => /^E\[/.test(l))
        .join('\n');
      assert.equal(m ? Number(m[1]) : -1, 0, `clangd on ${file}: ${errors}`);
      resolve();
    });
  });
}

async function verifiedClean(file: string, cwd: string): Promise<number> {
  const checked = json<{ diagnostics: unknown[] }>(await runCli(['check', file, ...NODE, '--json'], { cwd }), 'check');
  assert.deepEqual(checked.diagnostics, [], `${file}: no check diagnostic`);
  const v = json<{ ok: boolean; programs: { name: string; verdict: string }[] }>(
    await runCli(['verify', file, ...NODE, '--json'], { cwd }),
    `verify ${file}`,
  );
  assert.equal(v.ok, true, `${file}: ${JSON.stringify(v.programs)}`);
  assert.ok(v.programs.length > 0 && v.programs.every((p) => p.verdict === 'accepted'));
  return v.programs.length;
}

test(
  'every template, under a name of its own, checks clean and verifies with no edits',
  { timeout: 600_000 },
  async () => {
    const list = json<{ templates: { kind: string }[] }>(await runCli(['new', 'program', '--json']), 'list');
    const kinds = list.templates.map((t) => t.kind);
    assert.deepEqual(kinds, ['sockops_bypass', 'tracepoint_histogram', 'uprobe', 'xdp', 'tc', 'cgroup']);
    const dir = join(work, 'programs');
    mkdirSync(dir);
    for (const kind of kinds) {
      const name = `my_${kind}`;
      const made = json<{ files: string[] }>(
        await runCli(['new', 'program', kind, name, '--dir', dir, '--json']),
        `new ${kind}`,
      );
      assert.deepEqual(made.files.sort(), [join(dir, `${name}.bpf.c`), join(dir, `${name}.h`)]);
      const text = readFileSync(join(dir, `${name}.bpf.c`), 'utf8');
      assert.doesNotMatch(text, /dfs_prog|DFS_PROG/i, 'the placeholder is gone');
      assert.match(text, new RegExp(`\\b${name}_\\w+`), 'programs and maps take the name');
      assert.match(text, new RegExp(`#include "${name}\\.h"`));
      const programs = await verifiedClean(join(dir, `${name}.bpf.c`), dir);
      console.log(`template ${kind}: ${programs} programs accepted`);
    }
    // The build of the folder writes compile_commands.json; clangd then sees every file clean.
    json(await runCli(['build', ...NODE, '--json'], { cwd: dir }), 'build');
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.bpf.c'))) {
      await assertClangdClean(join(dir, f), dir);
    }

    // Nothing is overwritten, and a bad name is refused.
    const again = await runCli(['new', 'program', 'xdp', 'my_xdp', '--dir', dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /my_xdp\.bpf\.c, my_xdp\.h already exist .*nothing was written \[Conflict\]/);
    const bad = await runCli(['new', 'program', 'xdp', '2fast', '--dir', dir]);
    assert.match(bad.stderr, /"2fast" is not a C identifier/);
    const unknown = await runCli(['new', 'program', 'kprobe', 'k', '--dir', dir]);
    assert.match(unknown.stderr, /no template "kprobe"; there are: sockops_bypass, /);
  },
);

test(
  'the bypass workspace builds, checks clean, verifies, and clangd sees no error',
  { timeout: 600_000 },
  async () => {
    const ws = join(work, 'workspace');
    const made = json<{ files: string[] }>(await runCli(['new', 'workspace', ws, '--json']), 'new workspace');
    const rel = made.files.map((f) => f.slice(ws.length + 1)).sort();
    for (const f of [
      '.gitignore',
      '.vscode/settings.json',
      '.vscode/tasks.json',
      'README.md',
      'bpf/bypass.bpf.c',
      'bpf/profile.bpf.c',
    ])
      assert.ok(rel.includes(f), `${f} in ${rel.join(', ')}`);
    assert.equal(
      readFileSync(join(ws, 'bpf/bypass.bpf.c'), 'utf8'),
      readFileSync(join(repoRoot(), 'bpf/bypass.bpf.c'), 'utf8'),
      'the reference bypass itself',
    );
    const built = json<{ objects: unknown[] }>(await runCli(['build', ...NODE, '--json'], { cwd: ws }), 'build');
    assert.equal(built.objects.length, 2);
    for (const f of ['bpf/bypass.bpf.c', 'bpf/profile.bpf.c']) {
      await verifiedClean(join(ws, f), ws);
      await assertClangdClean(join(ws, f), ws);
    }
    const again = await runCli(['new', 'workspace', ws]);
    assert.equal(again.code, 1, 'an existing workspace is not overwritten');
  },
);

test(
  'clangd is clean on the valid check corpus: vmlinux.h and UAPI-header programs',
  { timeout: 300_000 },
  async () => {
    const dir = join(work, 'corpus');
    mkdirSync(dir);
    const corpus = join(repoRoot(), 'test/fixtures/bpf/check');
    const valid = readdirSync(corpus).filter((f) => f.startsWith('valid_') && f.endsWith('.bpf.c'));
    assert.ok(valid.includes('valid_uapi.bpf.c') && valid.includes('valid_kinds.bpf.c'));
    for (const f of valid) cpSync(join(corpus, f), join(dir, f));
    json(await runCli(['build', ...NODE, '--json'], { cwd: dir }), 'build');
    for (const f of valid) {
      await assertClangdClean(join(dir, f), dir);
    }
  },
);
