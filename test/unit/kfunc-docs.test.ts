// The kfuncs' prose (core/src/editing/data/kfuncs.json): it is what scripts/kfunc-docs.mjs makes
// of the pinned Linux source today (not stale), it says what the kernel says of kfuncs everyone
// knows, no comment decoration survives, and it agrees with a real kernel's BTF: the kfuncs of
// this machine's /sys/kernel/btf/vmlinux that have docs name the parameters their BTF has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parseBtf } from '../../core/src/btf';
import { KFUNC_DOCS, KFUNC_DOCS_SOURCE, kfuncProse } from '../../core/src/editing/data';
import { btfFacts } from '../../core/src/editing/facts';
import { repoRoot } from '../support/repo';

const root = repoRoot();

test('the committed kfunc prose is what scripts/kfunc-docs.mjs generates from the pinned kernel source', () => {
  const res = spawnSync(process.execPath, ['scripts/kfunc-docs.mjs', '--check'], { cwd: root, encoding: 'utf8' });
  assert.equal(res.status, 0, `kfunc-docs.mjs --check: ${res.stderr}`);
  assert.match(KFUNC_DOCS_SOURCE, /^Linux \d+\.\d+\.\d+ \(Debian linux-source-\d+\.\d+ \S+\)$/);
});

test('kfuncs everyone knows say what the kernel says of them', () => {
  assert.ok(KFUNC_DOCS.length > 100, `${KFUNC_DOCS.length} kfuncs documented`);

  const acquire = kfuncProse('bpf_task_acquire');
  assert.ok(acquire);
  assert.match(acquire.summary, /Acquire a reference to a task/);
  assert.deepEqual(
    acquire.params.map((p) => p.name),
    ['p'],
  );
  assert.equal(acquire.file, 'kernel/bpf/helpers.c');

  const slice = kfuncProse('bpf_dynptr_slice');
  assert.match(slice?.summary ?? '', /read-only pointer to the dynptr data/);
  assert.match(slice?.returns ?? '', /^NULL if the call failed/);
  assert.match(kfuncProse('bpf_cpumask_create')?.description ?? '', /bpf_cpumask_release\(\)/);
  // `Returns ...` paragraphs (sched_ext) are the returns, not the description.
  const consume = kfuncProse('scx_bpf_consume');
  assert.match(consume?.returns ?? '', /^%true if a task has been consumed/);
  assert.doesNotMatch(consume?.description ?? '', /Returns/);
  // The conntrack kfuncs' comments open with a plain `/*` and list `@param - doc`.
  const lookup = kfuncProse('bpf_xdp_ct_lookup');
  assert.match(lookup?.summary ?? '', /^Lookup CT entry for the given tuple, and acquire a reference to it$/);
  assert.deepEqual(
    lookup?.params.map((p) => p.name),
    ['xdp_ctx', 'bpf_tuple', 'tuple__sz', 'opts', 'opts__sz'],
  );
  assert.equal(kfuncProse('bpf_no_such_kfunc'), undefined);
});

test('every entry is clean: trimmed prose without comment decoration, sorted unique names, a kernel file', () => {
  const names = KFUNC_DOCS.map((k) => k.name);
  assert.deepEqual(names, [...names].sort(), 'sorted by name');
  assert.equal(new Set(names).size, names.length, 'names are unique');
  const decorated = /(^|\n)\s*\*( |\t|$)|\*\/|\/\*/;
  for (const k of KFUNC_DOCS) {
    assert.match(k.name, /^\w+$/);
    assert.ok(k.summary !== '' && k.summary === k.summary.trim() && !k.summary.includes('\n'), `${k.name}: summary`);
    assert.ok(!k.summary.includes(' * ') && !decorated.test(k.summary), `${k.name}: summary decorated`);
    for (const [field, text] of [
      ['description', k.description],
      ['returns', k.returns],
    ] as const) {
      assert.equal(text, text.trim(), `${k.name}: ${field} trimmed`);
      assert.ok(!text.includes('*/') && !text.includes('\n\n\n'), `${k.name}: ${field}`);
    }
    // ` * ` lines would be decoration; `* item` at a line's start is a kernel-doc list (Return:).
    assert.ok(!/(^|\n) \*( |$)/.test(k.description + '\n' + k.returns), `${k.name}: decoration left`);
    for (const p of k.params) {
      assert.match(p.name, /^(\w+|\.\.\.)$/, `${k.name}: param name`);
      assert.ok(!p.doc.includes('\n') && p.doc === p.doc.trim(), `${k.name}(@${p.name}): doc on one trimmed line`);
    }
    assert.equal(new Set(k.params.map((p) => p.name)).size, k.params.length, `${k.name}: params unique`);
    assert.match(k.file, /^(arch|block|crypto|drivers|fs|io_uring|kernel|lib|mm|net|security)\/[\w/.-]+\.c$/);
  }
});

/**
 * The parameter names of a C prototype as btfFacts spells it, `T *name(A a, B *b)` → [a, b]:
 * the last word of each top-level argument (a function pointer's inner commas are skipped).
 */
function paramNames(signature: string, name: string): string[] {
  const args = signature.slice(signature.indexOf(`${name}(`) + name.length + 1, -1);
  const names: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= args.length; i++) {
    const c = args[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if ((c === ',' && depth === 0) || i === args.length) {
      const word = /(\w+)\s*$/.exec(args.slice(start, i));
      if (word) names.push(word[1]!);
      start = i + 1;
    }
  }
  return names;
}

test("documented kfuncs of this machine's BTF name the parameters their BTF signature has", (t) => {
  const path = '/sys/kernel/btf/vmlinux';
  if (!existsSync(path)) return t.skip(`${path} is absent (a kernel without CONFIG_DEBUG_INFO_BTF)`);
  const btfKfuncs = btfFacts(parseBtf(readFileSync(path))).kfuncs;
  assert.ok(btfKfuncs.length > 0, 'the BTF tags kfuncs');
  const documented = btfKfuncs.flatMap((k) => {
    const prose = kfuncProse(k.name);
    return prose ? [{ prose, signature: k.signature }] : [];
  });
  const disagree = documented.filter(({ prose, signature }) => {
    const names = new Set(paramNames(signature, prose.name));
    return !prose.params.every((p) => p.name === '...' || names.has(p.name));
  });
  const agree = documented.length - disagree.length;
  t.diagnostic(
    `${documented.length} of the BTF's ${btfKfuncs.length} kfuncs have docs (${KFUNC_DOCS.length} documented in ` +
      `${KFUNC_DOCS_SOURCE}); ${agree} of those ${documented.length} name only parameters their BTF signature has`,
  );
  for (const { prose, signature } of disagree) {
    t.diagnostic(`  ${signature}: docs name ${prose.params.map((p) => p.name).join(', ')}`);
  }
  assert.ok(documented.length > 0, 'some kfunc of the BTF is documented');
  assert.ok(agree >= 0.9 * documented.length, `${agree} of ${documented.length} agree (90% wanted)`);
});
