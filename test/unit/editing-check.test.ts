// The pre-verifier checks' pure parts: reading a .bpf.c without a compiler (core/src/editing/
// source.ts) and the checks that need no kernel — sections and map definitions — on the check
// corpus (test/fixtures/bpf/check/), plus the helper and target checks over facts given as data
// (the node's own facts are exercised in test/integration/check-corpus.test.ts), and the kfuncs
// and events read from this machine's real kernel BTF.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkSource, evalInt, scalarSize, unansweredTargets, type KernelFacts } from '../../core/src/editing/check';
import { parseBtf } from '../../core/src/btf';
import { helperByName } from '../../core/src/editing/data';
import { btfFacts } from '../../core/src/editing/facts';
import { maskSource, reachableCalls, scanSource } from '../../core/src/editing/source';
import { repoRoot } from '../support/repo';

const CORPUS = join(repoRoot(), 'test/fixtures/bpf/check');
const read = (f: string): string => readFileSync(join(CORPUS, f), 'utf8');
const markers = (text: string, code: string): number[] =>
  text.split('\n').flatMap((l, i) => (l.includes(`EXPECT: ${code}`) ? [i + 1] : []));

test('masking blanks comments, strings and preprocessor lines and keeps every offset', () => {
  const src = '#define X(a) a\nint f() { /* g() */ char *s = "h()"; // i()\n  return j(); }\n';
  const m = maskSource(src);
  assert.equal(m.length, src.length);
  assert.deepEqual(
    [...m].map((c, i) => (c === '\n' ? i : -1)).filter((i) => i >= 0),
    [...src].map((c, i) => (c === '\n' ? i : -1)).filter((i) => i >= 0),
  );
  assert.doesNotMatch(m, /[ghi]\(|define/);
  assert.match(m, /j\(\)/);
});

test('programs, subprograms, BPF_PROG names, calls and maps are read with their places', () => {
  const model = scanSource(read('valid_kinds.bpf.c'));
  const programs = model.functions.filter((f) => f.section).map((f) => `${f.name}@${f.section!.name}`);
  assert.deepEqual(programs, [
    'on_read@tracepoint/syscalls/sys_enter_read',
    'on_switch@tp_btf/sched_switch',
    'on_exit@raw_tp/sched_process_exit',
    'on_malloc@uprobe//lib/x86_64-linux-gnu/libc.so.6:malloc',
    'xdp_pass@xdp',
    'tc_pass@tc',
    'on_connect@cgroup/connect4',
    'on_sockops@sockops',
    'on_msg@sk_msg',
  ]);
  assert.deepEqual(
    model.functions.filter((f) => !f.section).map((f) => f.name),
    ['count'],
  );
  const onRead = model.functions.find((f) => f.name === 'on_read')!;
  const reach = reachableCalls(model, onRead).map((c) => `${c.call.name} in ${c.in.name}`);
  assert.deepEqual(reach, [
    'bpf_map_lookup_elem in count',
    '__sync_fetch_and_add in count',
    'bpf_map_update_elem in count',
    'bpf_get_current_pid_tgid in on_read',
  ]);
  assert.deepEqual(
    model.maps.map((m) => m.name),
    ['counts', 'totals', 'events', 'socks', 'per_sock', 'prefixes'],
  );
  const ring = model.maps.find((m) => m.name === 'events')!;
  assert.deepEqual(
    ring.fields.map((f) => `${f.field}=${f.value}`),
    ['type=BPF_MAP_TYPE_RINGBUF', 'max_entries=256 * 1024'],
  );
  const sec = model.sections.find((s) => s.name === 'sk_msg')!;
  const text = read('valid_kinds.bpf.c');
  assert.equal(text.slice(sec.nameSpan.start, sec.nameSpan.end), 'sk_msg');
  assert.equal(
    text.split('\n')[sec.nameSpan.line - 1]!.slice(sec.nameSpan.column - 1, sec.nameSpan.endColumn - 1),
    'sk_msg',
  );
});

test('without a kernel: sections and maps of the corpus are flagged on the marked lines only', () => {
  for (const [file, code] of [
    ['wrong_sections.bpf.c', 'unknown-section'],
    ['wrong_maps.bpf.c', 'bad-map-definition'],
  ] as const) {
    const text = read(file);
    const got = checkSource(scanSource(text), null);
    assert.deepEqual(
      got.map((d) => `${d.line}:${d.code}`),
      markers(text, code).map((l) => `${l}:${code}`),
      `${file}: ${JSON.stringify(got, null, 1)}`,
    );
  }
  assert.deepEqual(checkSource(scanSource(read('valid_kinds.bpf.c')), null), []);
});

test('a misspelled section offers the near misses as fixes on the name', () => {
  const text = read('wrong_sections.bpf.c');
  const [first] = checkSource(scanSource(text), null);
  assert.ok(first?.fixes && first.fixes.length > 0);
  assert.equal(first.fixes[0]!.newText, 'sk_msg');
  assert.equal(text.slice(first.fixes[0]!.span.start, first.fixes[0]!.span.end), 'sk_msgs');
});

test('helper and target checks follow the facts they are given, and say nothing without them', () => {
  const text = read('wrong_helpers.bpf.c');
  const model = scanSource(text);
  const id = (n: string): number => helperByName(n)!.id;
  const allowed = (...names: string[]): ReadonlySet<number> => new Set(names.map(id));
  const facts: KernelFacts = {
    release: 'test',
    helpers: new Map([
      ['sk_msg', allowed('bpf_map_lookup_elem', 'bpf_msg_redirect_hash', 'bpf_msg_pull_data')],
      ['tracepoint', allowed('bpf_get_current_pid_tgid', 'bpf_trace_printk')],
      ['xdp', allowed('bpf_xdp_adjust_head', 'bpf_xdp_load_bytes')],
      ['sched_cls', allowed('bpf_skb_load_bytes')],
    ]),
    kfuncs: {
      names: new Set(['bpf_dynptr_from_skb', 'bpf_dynptr_from_xdp']),
      byType: new Map([
        ['xdp', { allowed: new Set(['bpf_dynptr_from_xdp']), unjudged: new Set() }],
        ['sched_cls', { allowed: new Set(['bpf_dynptr_from_skb']), unjudged: new Set() }],
      ]),
    },
    btfEvents: new Set(['sched_switch']),
    targets: new Map(),
  };
  const got = checkSource(model, facts);
  assert.deepEqual(
    got.map((d) => `${d.line}:${d.code}`),
    markers(text, 'helper-not-allowed').map((l) => `${l}:helper-not-allowed`),
  );
  assert.match(got[0]!.message, /Program types that may call it: sched_cls\./);
  const kfunc = got.find((d) => d.program === 'xdp_dynptr_of_skb')!;
  assert.match(kfunc.message, /^bpf_dynptr_from_skb \(a kfunc\) may not be called from xdp programs/);
  assert.match(kfunc.message, /may call it: sched_cls\. In xdp programs, consider bpf_dynptr_from_xdp\.$/);
  // Without kfunc facts (an older agent), or where the kernel gave no verdict, kfunc calls are
  // not judged; helpers still are.
  assert.equal(checkSource(model, { ...facts, kfuncs: null }).length, got.length - 1);
  const unjudged = new Map(facts.kfuncs!.byType).set('xdp', {
    allowed: new Set(['bpf_dynptr_from_xdp']),
    unjudged: new Set(['bpf_dynptr_from_skb']),
  });
  const noVerdict = checkSource(model, { ...facts, kfuncs: { names: facts.kfuncs!.names, byType: unjudged } });
  assert.equal(noVerdict.length, got.length - 1);
  // A type the kernel could not be asked about is not judged.
  const unknown: KernelFacts = { ...facts, helpers: new Map([['sk_msg', { error: 'cannot tell' }]]) };
  assert.equal(checkSource(model, unknown).filter((d) => d.program === 'msg_reads_skb').length, 0);

  const targets = scanSource(read('wrong_targets.bpf.c'));
  assert.deepEqual(
    unansweredTargets(targets, facts).map((t) => t.kind),
    ['tracepoint', 'uprobe', 'uprobe', 'tracepoint', 'uprobe'],
  );
  const btf = checkSource(targets, facts).filter((d) => d.code === 'unknown-attach-target');
  assert.equal(btf.length, 1, 'only the BTF event is known without asking');
  assert.match(btf[0]!.message, /did you mean "sched_switch"/);
});

test('map field values: sizes and integer expressions', () => {
  assert.equal(scalarSize('__u32'), 4);
  assert.equal(scalarSize('unsigned long long'), 8);
  assert.equal(scalarSize('const char[16]'), 16);
  assert.equal(scalarSize('struct sock *'), 8);
  assert.equal(scalarSize('struct lpm_key'), null);
  assert.equal(evalInt('256 * 1024'), 262144);
  assert.equal(evalInt('1 << 24'), 1 << 24);
  assert.equal(evalInt('(64)'), 64);
  assert.equal(evalInt('0x1000'), 4096);
  assert.equal(evalInt('MAX_ENTRIES'), null);
  assert.equal(evalInt('8 / 0'), null);
});

test('kfuncs and raw tracepoint events from this machine’s real kernel BTF', () => {
  const facts = btfFacts(parseBtf(readFileSync('/sys/kernel/btf/vmlinux')));
  // Every kfunc the BTF tags, with its C declaration; the counts are this kernel's own.
  assert.ok(facts.kfuncs.length > 100, `${facts.kfuncs.length} kfuncs`);
  const byName = new Map(facts.kfuncs.map((k) => [k.name, k.signature]));
  assert.match(byName.get('bpf_rdonly_cast') ?? '', /^void \*bpf_rdonly_cast\(const void \*\w+, u32 \w+\)$/);
  assert.match(byName.get('bpf_dynptr_slice') ?? '', /^void \*bpf_dynptr_slice\(/);
  assert.ok(!byName.has('bpf_map_lookup_elem'), 'helpers are not kfuncs');
  assert.ok(facts.btfEvents.includes('sched_switch') && facts.btfEvents.includes('sys_enter'));
  assert.ok(facts.btfEvents.length > 500, `${facts.btfEvents.length} events`);
});
