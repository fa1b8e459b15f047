// The editing help's data and section rules (core/src/editing/): the generated JSON is what
// scripts/editing-data.mjs makes of the pinned libbpf today (not stale), the helpers agree with
// the real bpf_helper_defs.h, and matchSection reads every SEC() name this repository uses as
// libbpf 1.7 does, with near-miss suggestions for misspellings and the special sections known.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { HELPERS, HELPERS_SOURCE, SECTIONS, SECTIONS_SOURCE, helperByName } from '../../core/src/editing/data';
import { isSpecialSection, matchSection, suggestSections, unsupportedSection } from '../../core/src/editing/sections';
import { repoRoot } from '../support/repo';

const root = repoRoot();

test('the committed data is what scripts/editing-data.mjs generates from the pinned libbpf', () => {
  const res = spawnSync(process.execPath, ['scripts/editing-data.mjs', '--check'], { cwd: root, encoding: 'utf8' });
  assert.equal(res.status, 0, `editing-data.mjs --check: ${res.stderr}`);
  assert.match(HELPERS_SOURCE, /^libbpf \d+\.\d+\.\d+ bpf_helper_defs\.h$/);
  assert.match(SECTIONS_SOURCE, /^libbpf \d+\.\d+\.\d+ libbpf\.c section_defs$/);
});

test('helpers agree with the real bpf_helper_defs.h', () => {
  const include = execFileSync(process.execPath, ['scripts/libbpf.mjs', 'include'], { cwd: root, encoding: 'utf8' });
  const header = readFileSync(join(include.trim(), 'bpf/bpf_helper_defs.h'), 'utf8');
  const declared = [...header.matchAll(/\(\* const (\w+)\)\(.*\) = \(void \*\) (\d+);$/gm)].map((m) => ({
    name: m[1],
    id: Number(m[2]),
  }));
  assert.equal(HELPERS.length, 211);
  assert.deepEqual(
    HELPERS.map((h) => ({ name: h.name, id: h.id })),
    declared.sort((a, b) => a.id - b.id),
  );
  assert.deepEqual(
    HELPERS.map((h) => h.id),
    HELPERS.map((_, i) => i + 1),
    'ids are unique and run 1..max without gaps',
  );

  const lookup = helperByName('bpf_map_lookup_elem');
  assert.ok(lookup);
  assert.equal(lookup.id, 1);
  assert.equal(lookup.returns, 'void *');
  assert.deepEqual(lookup.args, [
    { type: 'void *', name: 'map' },
    { type: 'const void *', name: 'key' },
  ]);
  assert.equal(lookup.signature, 'void *bpf_map_lookup_elem(void *map, const void *key)');
  assert.match(lookup.description, /lookup/);
  assert.match(lookup.returnsDoc, /\*\*NULL\*\*/);

  const redirect = helperByName('bpf_msg_redirect_hash');
  assert.ok(redirect);
  assert.equal(
    redirect.signature,
    'long bpf_msg_redirect_hash(struct sk_msg_md *msg, void *map, void *key, __u64 flags)',
  );
  assert.equal(helperByName('bpf_trace_printk')?.args.at(-1)?.type, '...');
  assert.deepEqual(helperByName('bpf_get_smp_processor_id')?.args, []);
  assert.equal(helperByName('bpf_no_such_helper'), undefined);
  for (const h of HELPERS) {
    assert.ok(h.description.length > 0 && !/^\s|\s$/.test(h.description), `${h.name}: description trimmed`);
    assert.ok(!/^ \*( |$)/m.test(h.description), `${h.name}: no comment prefix left`);
  }
});

test('every section_defs entry is reachable: its own name matches it, not an earlier one', () => {
  for (const def of SECTIONS) {
    const name = def.name.replace(/[+]$/, '');
    assert.equal(matchSection(name)?.def, def, name);
  }
});

test('section names used in this repository match with the right program type', () => {
  const cases: [string, string, string | null][] = [
    ['sk_msg', 'sk_msg', null],
    ['sockops', 'sock_ops', null],
    ['tracepoint/syscalls/sys_enter_read', 'tracepoint', 'syscalls/sys_enter_read'],
    ['tp_btf/sched_switch', 'tracing', 'sched_switch'],
    ['tp_btf/fuse_request_end', 'tracing', 'fuse_request_end'],
    ['fentry/tcp_sendmsg', 'tracing', 'tcp_sendmsg'],
    ['raw_tp/sys_enter', 'raw_tracepoint', 'sys_enter'],
    ['uprobe//usr/bin/x:func', 'kprobe', '/usr/bin/x:func'],
    ['xdp', 'xdp', null],
    ['tc', 'sched_cls', null],
    ['tcx/ingress', 'sched_cls', null],
    ['cgroup/connect4', 'cgroup_sock_addr', null],
    ['cgroup/sock_create', 'cgroup_sock', null],
    ['cgroup_skb/egress', 'cgroup_skb', null],
    ['syscall', 'syscall', null],
  ];
  for (const [name, progType, target] of cases) {
    const m = matchSection(name);
    assert.ok(m, `${name} matches`);
    assert.equal(m.progType, progType, name);
    assert.equal(m.target, target, name);
    assert.equal(m.autoload, true);
  }
  assert.equal(matchSection('sk_msg')?.attachType, 'BPF_SK_MSG_VERDICT');
  assert.equal(matchSection('tc')?.attachType, null);
  assert.equal(
    matchSection('tc/ingress')?.attachType,
    'BPF_TCX_INGRESS',
    'libbpf 1.7 makes tc/ingress an alias of tcx',
  );
  assert.deepEqual(matchSection('lsm.s/file_open')?.def.flags, ['SEC_ATTACH_BTF', 'SEC_SLEEPABLE']);
});

test('every SEC() in bpf/ and test/fixtures/bpf/ is known to libbpf, except those marked unknown-section', () => {
  // The check corpus (test/fixtures/bpf/check/README.md) marks deliberately wrong names with
  // `/* EXPECT: unknown-section */` on the SEC line: those must match nothing.
  const sources = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? sources(p) : p.endsWith('.bpf.c') ? [p] : [];
    });
  const seen = new Set<string>();
  for (const file of [...sources(join(root, 'bpf')), ...sources(join(root, 'test/fixtures/bpf'))]) {
    for (const m of readFileSync(file, 'utf8').matchAll(/\bSEC\("([^"]*)"\)(.*)$/gm)) {
      const name = m[1]!;
      const where = `${relative(root, file)}: SEC("${name}")`;
      if (/EXPECT: unknown-section/.test(m[2]!)) {
        assert.equal(matchSection(name) ?? isSpecialSection(name), false, where);
        continue;
      }
      seen.add(name);
      assert.ok(matchSection(name) ?? isSpecialSection(name), where);
    }
  }
  for (const name of ['sk_msg', 'sockops', 'license', '.maps']) assert.ok(seen.has(name), `the scan found ${name}`);
});

test('libbpf rules: exact names take no target, "+" names need a "/", "?" only turns autoload off', () => {
  assert.equal(matchSection('xdp/foo'), null);
  assert.equal(matchSection('tc/foo'), null);
  assert.equal(matchSection('sk_msg/x'), null);
  assert.equal(matchSection('kprobex'), null);
  assert.equal(matchSection('tracepoint')?.target, null);
  assert.equal(matchSection('kprobe/')?.target, '');
  assert.equal(matchSection('uprobe.s/x')?.def.name, 'uprobe.s+');
  const optional = matchSection('?xdp');
  assert.equal(optional?.def.name, 'xdp');
  assert.equal(optional?.autoload, false);
  assert.equal(matchSection(''), null);
});

test('misspelled sections get the intended name first, with the target kept', () => {
  const cases: [string, string][] = [
    ['sk_msgs', 'sk_msg'],
    ['sock_ops', 'sockops'],
    ['tracepiont/syscalls/sys_enter_read', 'tracepoint/syscalls/sys_enter_read'],
    ['tp_bft/sched_switch', 'tp_btf/sched_switch'],
    ['fentyr/tcp_sendmsg', 'fentry/tcp_sendmsg'],
    ['rawtp/sys_enter', 'raw_tp/sys_enter'],
    ['cgruop/connect4', 'cgroup/connect4'],
    ['sk_skb/verdit', 'sk_skb/verdict'],
    ['xdp/foo', 'xdp'],
    ['classifer', 'classifier'],
    ['licence', 'license'],
    ['maps', '.maps'],
    ['?sk_msgs', '?sk_msg'],
  ];
  for (const [typo, intended] of cases) {
    const got = suggestSections(typo);
    assert.equal(got[0], intended, `${typo} → ${JSON.stringify(got)}`);
    assert.equal(new Set(got).size, got.length, `${typo}: no duplicates`);
    assert.ok(got.length <= 3);
  }
  assert.deepEqual(suggestSections('sockops'), [], 'a valid name has no suggestions');
  assert.deepEqual(suggestSections('.rodata'), []);
  assert.deepEqual(suggestSections('completely_unrelated'), []);
  assert.equal(suggestSections('tcx', 1).length, 1);
});

test('special sections are recognised, and the legacy "maps" section is refused', () => {
  for (const name of ['license', 'version', '.maps', '.data', '.data.counters', '.rodata', '.rodata.str1.1', '.bss'])
    assert.ok(isSpecialSection(name), name);
  for (const name of ['.kconfig', '.ksyms', '.struct_ops', '.struct_ops.link', '.text', '.BTF'])
    assert.ok(isSpecialSection(name), name);
  for (const name of ['maps', 'sk_msg', '.database', '.datax', 'LICENSE']) assert.ok(!isSpecialSection(name), name);
  assert.match(unsupportedSection('maps') ?? '', /not supported by libbpf v1\.0\+/);
  assert.equal(unsupportedSection('.maps'), null);
});
