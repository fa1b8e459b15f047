// The verifier-log parser, classifier and BTF line-info reader (core/src/verifier/parse.ts,
// classify.ts, btfLines.ts) on real logs captured from Linux 6.18 (test/fixtures/verifier-logs/,
// see its README.md): the failing instruction and its line (in a callee too), the reason without
// backtracking or framing noise, the registers there, the path that led there, the statistics,
// the source-text and BTF fallbacks, and the class of every message the kernel printed for the
// corpus in test/fixtures/bpf/verifier/. No kernel, no compiler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { btfLineInfo } from '../../core/src/verifier/btfLines';
import { classify } from '../../core/src/verifier/classify';
import type { VerifierClass } from '../../core/src/verifier/model';
import { instructions, parseVerifierLog } from '../../core/src/verifier/parse';
import { repoRoot } from '../support/repo';

// The bundled test may run from outside the repository; the test runners start it in the root.
const root = repoRoot(process.cwd());
const logDir = join(root, 'test/fixtures/verifier-logs');
const log = (name: string): string => readFileSync(join(logDir, name), 'utf8');
const fixtureSource = (name: string): string => readFileSync(join(root, 'test/fixtures/bpf/verifier', name), 'utf8');
const rejected = (name: string, section = 'tracepoint/syscalls/sys_enter_read') => ({ name, section, rejected: true });
const lines = (path: { line: number }[]): number[] => path.map((p) => p.line);
const withoutAnnotations = (text: string): string =>
  text
    .split('\n')
    .filter((l) => !l.startsWith(';'))
    .join('\n');

test('a rejected program: failing instruction, its line, reason, registers, path and stats', () => {
  assert.deepEqual(parseVerifierLog(log('null_hash_lookup.log'), rejected('count_reads')), {
    name: 'count_reads',
    section: 'tracepoint/syscalls/sys_enter_read',
    verdict: 'rejected',
    insnsProcessed: 7,
    states: 0,
    peakStates: 0,
    maxStatesPerInsn: 0,
    verificationTimeUs: null,
    stackDepth: null,
    error: {
      message: "R0 invalid mem access 'map_value_or_null'",
      class: 'null-check',
      explanation: classify("R0 invalid mem access 'map_value_or_null'", '').explanation,
      insn: 7,
      logLine: 11,
      location: { file: 'null_hash_lookup.bpf.c', line: 25, text: '*count += 1; /* EXPECT: null-check */' },
      locatedBy: 'annotation',
      // The failing instruction prints no state; the one before it does.
      registers: 'R0=map_value_or_null(id=1,map=reads,ks=4,vs=8)',
      path: [
        { file: 'null_hash_lookup.bpf.c', line: 22, text: '__u32 fd = ctx->args[0];' },
        { file: 'null_hash_lookup.bpf.c', line: 23, text: '__u64 *count = bpf_map_lookup_elem(&reads, &fd);' },
      ],
    },
  });
});

test('bpftool -d framing, liveness tables and level-4 statistics stay out of the reason', () => {
  const verdict = parseVerifierLog(log('null_hash_lookup.bpftool.log'), rejected('count_reads'));
  assert.equal(verdict.error?.message, "R0 invalid mem access 'map_value_or_null'");
  assert.equal(verdict.error?.location?.line, 25);
  assert.equal(verdict.error?.insn, 7);
  assert.deepEqual([verdict.insnsProcessed, verdict.verificationTimeUs, verdict.stackDepth], [7, 97, '8']);
});

test('a fault inside a static subprogram is located on the callee line, in frame 1', () => {
  const text = log('subprog_fault.log');
  const error = parseVerifierLog(text, rejected('count_reads')).error;
  assert.equal(error?.message, 'math between map_value pointer and register with unbounded min value is not allowed');
  assert.equal(error?.class, 'unbounded-index');
  assert.deepEqual([error?.insn, error?.location?.line, error?.locatedBy], [19, 25, 'annotation']);
  assert.match(error?.registers ?? '', /^frame1: R2=scalar\(smax=0x7ffffffffffffff8,/);
  // The callee's first call returned at line 26; the second call (line 38) led to the fault.
  assert.deepEqual(lines(error?.path ?? []), [30, 32, 33, 35, 37, 26, 38]);
  const walked = instructions(text).map((i) => `${i.insn}@${i.frame}:${i.source?.line}`);
  assert.deepEqual(walked.slice(12), [
    '18@1:25',
    '19@1:25',
    '20@1:25',
    '21@1:25',
    '22@1:25',
    '23@1:26',
    '13@0:38',
    '14@0:38',
    '15@0:38',
    '18@1:25',
    '19@1:25',
  ]);
});

test('after "to caller at" the walk is back in frame 0, even before an instruction shows a state', () => {
  // The real log, cut right after the return from the first call, with a made-up reason.
  const real = log('subprog_fault.log').split('\n');
  const cut = real.findIndex((l) => l.startsWith('13: (79)'));
  const text = [
    ...real.slice(0, cut),
    '13: (79) r2 = *(u64 *)(r6 +16)',
    'made-up reason',
    'processed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0',
  ].join('\n');
  const walked = instructions(text);
  assert.deepEqual(
    walked.slice(-2).map((i) => [i.insn, i.frame]),
    [
      [23, 1],
      [13, 0],
    ],
  );
  const error = parseVerifierLog(text, rejected('count_reads')).error;
  assert.deepEqual([error?.insn, error?.location?.line, error?.message], [13, 38, 'made-up reason']);
  // Its own state, when an instruction line has one, is the state at the failure.
  const withState = text.replace('13: (79) r2 = *(u64 *)(r6 +16)', '13: (79) r2 = *(u64 *)(r6 +16)  ; R2=scalar()');
  assert.equal(parseVerifierLog(withState, rejected('count_reads')).error?.registers, 'R2=scalar()');
});

test('log level 2: backtracking and liveness lines are not the reason; the same line is found', () => {
  const error = parseVerifierLog(log('subprog_fault.level2.log'), rejected('count_reads')).error;
  assert.equal(error?.message, 'math between map_value pointer and register with unbounded min value is not allowed');
  assert.deepEqual([error?.insn, error?.location?.line], [19, 25]);
});

test('level 2 keeps explored paths: the path follows "from 6 to 8" back to the branch', () => {
  const error = parseVerifierLog(
    log('bad_return_cgroup_sock.level2.log'),
    rejected('deny_raw', 'cgroup/sock_create'),
  ).error;
  assert.equal(error?.class, 'bad-return');
  assert.deepEqual([error?.insn, error?.location?.line, error?.locatedBy], [8, 23, 'annotation']);
  assert.equal(error?.registers, 'R0=2 R1=0 R2=0 R3=3 R10=fp0');
  assert.deepEqual(lines(error?.path ?? []), [19, 21]);
});

test('the path leaves out lines of an explored branch that did not lead to the error', () => {
  // The walk took the bpf_printk() branch (line 20) first; "from 2 to 9" failed without it.
  const error = parseVerifierLog(
    log('bad_return_branches.level2.log'),
    rejected('audit_raw', 'cgroup/sock_create'),
  ).error;
  assert.deepEqual([error?.insn, error?.location?.line, error?.class], [9, 25, 'bad-return']);
  assert.deepEqual(lines(error?.path ?? []), [15, 19]);
});

test('level 1 erases explored paths; BTF line info repairs the annotation the kernel left out', () => {
  // The walk resumes at insn 8 ("goto pc+1 8: R0=2 ..."); the kernel printed insn 8's line on
  // the erased path only, so the nearest annotation left (line 21) is not insn 8's (line 23).
  const text = log('bad_return_cgroup_sock.log');
  const program = rejected('deny_raw', 'cgroup/sock_create');
  const bare = parseVerifierLog(text, program).error;
  assert.deepEqual([bare?.insn, bare?.location?.line, bare?.locatedBy], [8, 21, 'annotation']);
  assert.equal(bare?.registers, 'R0=2 R1=0 R2=0 R3=3 R10=fp0');
  const btfLines = btfLineInfo(readFileSync(join(logDir, 'bad_return_cgroup_sock.bpf.o')), program.section, 'deny_raw');
  const repaired = parseVerifierLog(text, program, { btfLines }).error;
  assert.deepEqual([repaired?.location?.line, repaired?.locatedBy], [23, 'btf-line-info']);
  assert.equal(repaired?.location?.text, 'return verdict; /* EXPECT: bad-return */');
  // The jump that carries the resumed state is still an instruction of its own.
  assert.deepEqual(
    instructions(text).map((i) => [i.insn, i.text, i.state]),
    [
      [0, '(61) r3 = *(u32 *)(r1 +8)', 'R1=ctx() R3=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))'],
      [1, '(b7) r2 = 1', 'R2=1'],
      [2, '(55) if r3 != 0x3 goto pc+1', 'R3=3'],
      [3, '(b7) r2 = 0', 'R2=0'],
      [4, '(61) r1 = *(u32 *)(r1 +12)', 'R1=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))'],
      [5, '(b7) r0 = 2', 'R0=2'],
      [6, '(15) if r1 == 0x0 goto pc+1', ''],
      [8, '(95) exit', ''],
    ],
  );
});

test('without "@ file:line" the annotation text is found in the sources, nearest after the last line', () => {
  const text = log('subprog_fault.no-file.log');
  const sources = new Map([['subprog_fault.bpf.c', fixtureSource('subprog_fault.bpf.c')]]);
  const error = parseVerifierLog(text, rejected('count_reads'), { sources }).error;
  assert.deepEqual(
    [error?.location?.file, error?.location?.line, error?.locatedBy],
    ['subprog_fault.bpf.c', 25, 'source-text'],
  );
  assert.deepEqual(lines(error?.path ?? []), [30, 32, 33, 35, 37, 26, 38]);
  // "return 0;" is on lines 26 and 36; after line 25 the callee's (26) is the one.
  assert.equal(instructions(text, { sources }).find((i) => i.insn === 23)?.source?.line, 26);
  // With neither file names nor sources, nothing is located.
  assert.equal(parseVerifierLog(text, rejected('count_reads')).error?.location, null);
});

test('a source text found on several lines resolves to the nearest one after the last line found', () => {
  // A made-up walk (no kernel prints this file): "return 0;" is on lines 2 and 9, the walk was
  // last on line 5, so line 9 (4 lines after) wins over line 2 (3 lines before).
  const source = ['a = 1;', 'return 0;', '', '', 'x();', '', '', '', 'return 0;'].join('\n');
  const text = ['; a = 1;', '0: (b7) r1 = 1', '; x();', '1: (85) call pc+1', '; return 0;', '2: (95) exit'].join('\n');
  const sources = new Map([['f.bpf.c', source]]);
  assert.deepEqual(
    instructions(text, { sources }).map((i) => i.source?.line),
    [1, 5, 9],
  );
});

test('without any annotation the BTF line info of the loaded layout locates the callee line', () => {
  const btfLines = btfLineInfo(
    readFileSync(join(logDir, 'subprog_fault.bpf.o')),
    'tracepoint/syscalls/sys_enter_read',
    'count_reads',
  );
  const error = parseVerifierLog(withoutAnnotations(log('subprog_fault.log')), rejected('count_reads'), {
    btfLines,
  }).error;
  assert.deepEqual([error?.insn, error?.location?.line, error?.locatedBy], [19, 25, 'btf-line-info']);
  assert.equal(error?.location?.text, 'v->slot[idx] += 1; /* EXPECT: unbounded-index */');
});

test('a global function is verified on its own walk after "Validating ..."', () => {
  const error = parseVerifierLog(log('global_func_fault.log'), rejected('count_reads')).error;
  assert.equal(error?.message, 'math between mem pointer and register with unbounded min value is not allowed');
  assert.deepEqual([error?.insn, error?.location?.line, error?.class], [15, 27, 'unbounded-index']);
  assert.deepEqual(lines(error?.path ?? []), [25]);
});

test('state dumps after the reason ("cur state:", "old state:") are not part of it', () => {
  const error = parseVerifierLog(log('loop_infinite.log'), rejected('spin')).error;
  assert.equal(error?.message, 'infinite loop detected at insn 3');
  assert.deepEqual([error?.insn, error?.location?.line, error?.class], [2, 16, 'loop-complexity']);
  assert.deepEqual(lines(error?.path ?? []), [12, 14]);
});

test('several reason lines are joined; the whole reason is classified', () => {
  const oob = parseVerifierLog(log('oob_map_value.log'), rejected('count_by_fd')).error;
  assert.equal(
    oob?.message,
    'invalid access to map value, value_size=128 off=248 size=8 | R0 max value is outside of the allowed memory range',
  );
  assert.deepEqual([oob?.insn, oob?.location?.line, oob?.class], [13, 32, 'out-of-bounds']);
  const leak = parseVerifierLog(
    log('unreleased_ringbuf.log'),
    rejected('log_write', 'tracepoint/syscalls/sys_enter_write'),
  ).error;
  assert.equal(
    leak?.message,
    'Unreleased reference id=2 alloc_insn=5 | BPF_EXIT instruction in main prog would lead to reference leak',
  );
  assert.deepEqual([leak?.insn, leak?.location?.line, leak?.class], [10, 25, 'unreleased-reference']);
  assert.deepEqual(lines(leak?.path ?? []), [17, 19, 21, 23]);
  const packet = parseVerifierLog(log('packet_tc_short_check.log'), rejected('tcp_only', 'tc')).error;
  assert.deepEqual([packet?.insn, packet?.location?.line, packet?.class], [8, 23, 'packet-access']);
  const key = parseVerifierLog(log('uninit_stack_key.log'), rejected('uninit_key', 'xdp')).error;
  assert.deepEqual(
    [key?.message, key?.location?.line, key?.class],
    ['invalid read from stack R2 off=-4 size=4', 24, 'uninit-stack'],
  );
});

test('a log whose head the kernel dropped (rotating buffer) still yields the error and stats', () => {
  const verdict = parseVerifierLog(log('loop_jump_sequence.truncated.log'), rejected('sum_table'));
  assert.deepEqual(
    [verdict.error?.message, verdict.error?.insn, verdict.error?.location?.line, verdict.error?.class],
    ['The sequence of 8193 jumps is too complex.', 16, 31, 'loop-complexity'],
  );
  assert.deepEqual(
    [verdict.insnsProcessed, verdict.states, verdict.peakStates, verdict.maxStatesPerInsn],
    [166052, 1751, 1751, 4],
  );
  assert.equal(verdict.error?.registers, 'R0=map_value_or_null(id=16932,map=table,ks=4,vs=128)');
});

test('an accepted program has statistics and no error (level 1 keeps only the stats line)', () => {
  const accepted = { name: 'count_reads', section: 'tracepoint/syscalls/sys_enter_read', rejected: false };
  assert.deepEqual(parseVerifierLog(log('accepted_subprog.log'), accepted), {
    name: 'count_reads',
    section: 'tracepoint/syscalls/sys_enter_read',
    verdict: 'accepted',
    insnsProcessed: 54,
    states: 4,
    peakStates: 4,
    maxStatesPerInsn: 0,
    verificationTimeUs: null,
    stackDepth: null,
    error: null,
  });
  const stats = parseVerifierLog(log('accepted_subprog.stats.log'), accepted);
  assert.deepEqual([stats.insnsProcessed, stats.verificationTimeUs, stats.stackDepth], [54, 842, '40+0+0']);
});

test('a rejection with no log, and one found before the walk, still make an error', () => {
  const empty = parseVerifierLog('', rejected('x')).error;
  assert.deepEqual(
    [empty?.message, empty?.class, empty?.insn, empty?.location, empty?.path],
    ['the verifier log gives no reason', 'other', null, null, []],
  );
  // Control-flow checks run before the walk and name the instruction themselves (the kernel's
  // wording for unprivileged loads; root may loop on 6.18, so this one is not captured).
  const btfLines = [{ insn: 0, file: 'a.bpf.c', line: 3, text: 'for (;;)' }];
  const cfg = parseVerifierLog(
    'back-edge from insn 7 to 3\nprocessed 0 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0',
    rejected('x'),
    { btfLines },
  ).error;
  assert.deepEqual(
    [cfg?.insn, cfg?.class, cfg?.logLine, cfg?.location?.line, cfg?.locatedBy],
    [7, 'loop-complexity', 0, 3, 'btf-line-info'],
  );
});

test('classify(): every message the kernel printed for the corpus, and their classes', () => {
  const seen: [string, VerifierClass][] = [
    ["R0 invalid mem access 'map_value_or_null'", 'null-check'],
    ["R0 invalid mem access 'ringbuf_mem_or_null'", 'null-check'],
    ["R0 invalid mem access 'sock_or_null'", 'null-check'],
    ['R1 type=ringbuf_mem_or_null expected=ringbuf_mem', 'null-check'],
    ['Possibly NULL pointer passed to trusted arg0', 'null-check'],
    [
      'invalid access to map value, value_size=128 off=248 size=8 | R0 max value is outside of the allowed memory range',
      'out-of-bounds',
    ],
    [
      'invalid access to memory, mem_size=8 off=8 size=8 | R0 min value is outside of the allowed memory range',
      'out-of-bounds',
    ],
    ['invalid write to stack R1 off=-8 size=16', 'out-of-bounds'],
    ['invalid read from stack R10 off=8 size=8', 'out-of-bounds'],
    ['access beyond struct task_struct at off 99999 size 4', 'out-of-bounds'],
    ['math between map_value pointer and register with unbounded min value is not allowed', 'unbounded-index'],
    ['math between mem pointer and register with unbounded min value is not allowed', 'unbounded-index'],
    ['R0 unbounded memory access, make sure to bounds check any such access', 'unbounded-index'],
    ['value -17179869184 makes map_value pointer be out of bounds', 'unbounded-index'],
    ['Expected an initialized dynptr as arg #2', 'uninit-stack'],
    ['expected an initialized iter_num as arg #0', 'uninit-stack'],
    ['invalid read from stack R2 off=-4 size=4', 'uninit-stack'],
    ['invalid read from stack R10 off=-64 size=8', 'uninit-stack'],
    ['R7 !read_ok', 'uninit-stack'],
    [
      'invalid access to packet, off=12 size=2, R1(id=0,off=12,r=0) | R1 offset is outside of the packet',
      'packet-access',
    ],
    ['program of this type cannot use helper bpf_redirect#23', 'helper-not-allowed'],
    ['program of this type cannot use helper bpf_probe_write_user#36', 'helper-not-allowed'],
    ['cannot call GPL-restricted function from non-GPL compatible program', 'helper-not-allowed'],
    ['calling kernel function bpf_task_from_pid is not allowed', 'helper-not-allowed'],
    ['helper call might sleep in a non-sleepable prog', 'helper-not-allowed'],
    ['At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]', 'bad-return'],
    ['At program exit the register R0 has smin=0 smax=4294967295 should have been in [0, 3]', 'bad-return'],
    ['infinite loop detected at insn 3', 'loop-complexity'],
    ['BPF program is too large. Processed 1000001 insn', 'loop-complexity'],
    ['The sequence of 8193 jumps is too complex.', 'loop-complexity'],
    [
      'Unreleased reference id=2 alloc_insn=5 | BPF_EXIT instruction in main prog would lead to reference leak',
      'unreleased-reference',
    ],
    ['invalid bpf_context access off=20 size=4', 'invalid-context'],
    ['invalid bpf_context access off=12 size=8', 'invalid-context'],
    ['dereference of modified ctx ptr R1 off=4 disallowed', 'invalid-context'],
    ["R1 invalid mem access 'scalar'", 'other'],
  ];
  for (const [message, expected] of seen) {
    const { class: cls, explanation } = classify(message, '');
    assert.equal(cls, expected, message);
    assert.ok(explanation.length > 20 && !explanation.includes('\n'), message);
  }
  // Each class has its own explanation.
  const explanations = new Set(seen.map(([message]) => classify(message, '').explanation));
  assert.equal(explanations.size, new Set(seen.map(([, cls]) => cls)).size);
  assert.match(classify('something new', '(85) call bpf_foo#1').explanation, /\(85\) call bpf_foo#1/);
});

test('btfLineInfo(): a section as compiled, and a program as libbpf lays it out with its callee', () => {
  const elf = readFileSync(join(logDir, 'subprog_fault.bpf.o'));
  const short = (r: { insn: number; file: string; line: number }) => `${r.insn}:${r.file}:${r.line}`;
  assert.deepEqual(btfLineInfo(elf, '.text').map(short), [
    '0:subprog_fault.bpf.c:25',
    '2:subprog_fault.bpf.c:25',
    '5:subprog_fault.bpf.c:26',
  ]);
  const main = ['0:30', '2:32', '4:0', '5:33', '9:35', '10:37', '13:38', '14:38', '16:39'].map((s) =>
    s.replace(':', ':subprog_fault.bpf.c:'),
  );
  assert.deepEqual(btfLineInfo(elf, 'tracepoint/syscalls/sys_enter_read').map(short), main);
  // bump() (6 instructions in .text) lands after the main function's 18.
  assert.deepEqual(btfLineInfo(elf, 'tracepoint/syscalls/sys_enter_read', 'count_reads').map(short), [
    ...main,
    '18:subprog_fault.bpf.c:25',
    '20:subprog_fault.bpf.c:25',
    '23:subprog_fault.bpf.c:26',
  ]);
  assert.equal(btfLineInfo(elf, '.text')[2]?.text, '\treturn 0;');
  assert.deepEqual(btfLineInfo(elf, 'no-such-section'), []);
  // Untrusted bytes: a missing program or a file that is not ELF has no line info (never a throw).
  assert.deepEqual(btfLineInfo(elf, 'tracepoint/syscalls/sys_enter_read', 'nope'), []);
  assert.deepEqual(btfLineInfo(new TextEncoder().encode('not an ELF file, clearly not one'), '.text'), []);
});
