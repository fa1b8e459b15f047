// `dfs-ebpf check` against a real local test node's kernel, on the check corpus
// (test/fixtures/bpf/check/README.md): every marked line of a wrong program is reported with its
// code and nothing else is; the valid programs, the product's own programs and the verifier
// corpus check clean, except the verifier fixtures whose kernel rejection is a helper the
// program type may not call, which the check must catch on the same line before any load.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeDown } from '../../core/src/testnode';
import { runCli } from '../support/cli';
import { upNode } from '../support/node';
import { repoRoot } from '../support/repo';

const NAME = 'dfsitchk';
const root = repoRoot();
const CORPUS = join(root, 'test/fixtures/bpf/check');
const VERIFIER = join(root, 'test/fixtures/bpf/verifier');
const cwd = mkdtempSync(join(tmpdir(), 'dfs-check-'));

interface Diag {
  file: string;
  line: number;
  column: number;
  severity: string;
  message: string;
  code: string;
  program: string | null;
}

before(async () => {
  await upNode(NAME);
});

after(async () => {
  rmSync(cwd, { recursive: true, force: true });
  await nodeDown({ name: NAME });
});

async function check(files: string[]): Promise<{ code: number; diagnostics: Diag[]; stderr: string }> {
  const r = await runCli(['check', ...files, '--node', `local:${NAME}`, '--json'], { cwd });
  assert.ok(r.stdout.trim().startsWith('{'), `check printed JSON: ${r.stderr}`);
  const doc = JSON.parse(r.stdout) as { diagnostics: Diag[]; kernel: string | null };
  assert.match(doc.kernel ?? '', /^\d+\.\d+/, 'checked against the node kernel');
  return { code: r.code, diagnostics: doc.diagnostics, stderr: r.stderr };
}

/** `line:code` of every `EXPECT: <code>` marker of a file. */
function markers(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((l, i) => {
      const m = /EXPECT: ([a-z-]+)/.exec(l);
      return m ? [`${i + 1}:${m[1]}`] : [];
    });
}

const wrong = readdirSync(CORPUS).filter((f) => f.startsWith('wrong_') && f.endsWith('.bpf.c'));

test('the corpus has wrong programs for every code', () => {
  const codes = new Set(wrong.flatMap((f) => markers(join(CORPUS, f)).map((m) => m.split(':')[1])));
  assert.deepEqual([...codes].sort(), [
    'bad-map-definition',
    'helper-not-allowed',
    'unknown-attach-target',
    'unknown-section',
  ]);
});

for (const f of wrong) {
  test(`${f}: each marked line reported with its code, nothing else`, { timeout: 120_000 }, async () => {
    const file = join(CORPUS, f);
    const r = await check([file]);
    const got = r.diagnostics.map((d) => `${d.line}:${d.code}`).sort();
    assert.deepEqual(got, markers(file).sort(), JSON.stringify(r.diagnostics, null, 1));
    assert.equal(r.code, 1, 'an error makes the exit code 1');
    for (const d of r.diagnostics) {
      assert.equal(d.file, file, 'the file as given');
      assert.equal(d.severity, 'error');
      assert.ok(d.message.length > 20, `a sentence: ${d.message}`);
    }
  });
}

test('the reasons name what to do', { timeout: 120_000 }, async () => {
  const byCode = async (f: string): Promise<Diag[]> => (await check([join(CORPUS, f)])).diagnostics;
  const sections = await byCode('wrong_sections.bpf.c');
  assert.match(sections[0]!.message, /unknown section "sk_msgs".*did you mean "sk_msg"/);
  assert.match(sections[1]!.message, /did you mean "tracepoint\/syscalls\/sys_enter_read"/);
  assert.match(sections[2]!.message, /did you mean "sockops"/);
  const helpers = await byCode('wrong_helpers.bpf.c');
  assert.match(helpers[0]!.message, /bpf_skb_load_bytes may not be called from sk_msg programs.*sched_cls/);
  assert.match(helpers[1]!.message, /bpf_msg_redirect_hash may not be called from tracepoint .*through redirect_it/);
  assert.equal(helpers[1]!.program, 'tracepoint_redirects');
  assert.match(helpers[2]!.message, /bpf_skb_load_bytes may not be called from xdp .*consider bpf_xdp_load_bytes/);
  // A kfunc, judged by the node's verifier per program type (kernel/kfuncs).
  assert.match(
    helpers[3]!.message,
    /bpf_dynptr_from_skb \(a kfunc\) may not be called from xdp .*may call it: .*sched_cls.*consider bpf_dynptr_from_xdp/,
  );
  const targets = await byCode('wrong_targets.bpf.c');
  assert.match(targets[0]!.message, /tracepoint syscalls\/sys_enter_nope/);
  assert.match(targets[1]!.message, /no raw tracepoint "sched_swich".*did you mean "sched_switch"/);
  assert.match(targets[2]!.message, /\/usr\/bin\/no-such-binary does not exist/);
  assert.match(targets[3]!.message, /does not define a function no_such_function_here/);
});

test('valid programs, the product programs and the verifier corpus check clean', { timeout: 180_000 }, async () => {
  const helperFixtures = readdirSync(VERIFIER).filter(
    (f) => f.endsWith('.bpf.c') && /EXPECT: helper-not-allowed/.test(readFileSync(join(VERIFIER, f), 'utf8')),
  );
  const clean = [
    ...readdirSync(CORPUS)
      .filter((f) => f.startsWith('valid_') && f.endsWith('.bpf.c'))
      .map((f) => join(CORPUS, f)),
    ...readdirSync(join(root, 'bpf'))
      .filter((f) => f.endsWith('.bpf.c'))
      .map((f) => join(root, 'bpf', f)),
    // The "New eBPF program" templates as they are written (placeholder name).
    ...readdirSync(join(root, 'bpf/templates'))
      .filter((d) => existsSync(join(root, 'bpf/templates', d, 'dfs_prog.bpf.c')))
      .map((d) => join(root, 'bpf/templates', d, 'dfs_prog.bpf.c')),
    ...readdirSync(VERIFIER)
      .filter((f) => f.endsWith('.bpf.c') && !helperFixtures.includes(f))
      .map((f) => join(VERIFIER, f)),
  ];
  assert.ok(clean.length > 30, `${clean.length} files`);
  const r = await check(clean);
  assert.deepEqual(r.diagnostics, [], 'no diagnostic on a valid program');
  assert.equal(r.code, 0);

  // The verifier's helper rejections, caught before any load (GPL-only helpers aside: licenses are not read).
  for (const f of helperFixtures.filter((x) => !x.includes('gpl_only'))) {
    const file = join(VERIFIER, f);
    const got = (await check([file])).diagnostics.map((d) => `${d.line}:${d.code}`);
    assert.deepEqual(got, markers(file), f);
  }
});

test('the valid corpus builds and the node kernel accepts every program in it', { timeout: 180_000 }, async () => {
  for (const f of readdirSync(CORPUS).filter((x) => x.startsWith('valid_') && x.endsWith('.bpf.c'))) {
    const r = await runCli(['verify', join(CORPUS, f), '--node', `local:${NAME}`, '--json'], { cwd });
    const doc = JSON.parse(r.stdout) as { ok: boolean; programs: { name: string; verdict: string }[] };
    assert.equal(doc.ok, true, `${f}: ${JSON.stringify(doc.programs)} ${r.stderr}`);
    assert.ok(doc.programs.length >= (f === 'valid_kinds.bpf.c' ? 9 : 1), `${f}: ${doc.programs.length} programs`);
    assert.ok(
      doc.programs.every((p) => p.verdict === 'accepted'),
      f,
    );
  }
});
