// One source of truth for source lines (issue 6, item 9): for EVERY captured verifier log in
// test/fixtures/verifier-logs/, the line the log explorer opens for the failing instruction is
// the line of the diagnostic. Both come from core: the diagnostic from verify.ts toDiagnostics,
// the explorer's from parse.ts's LineSources table, sent to the webview as the extension sends
// it (lineIndexToBytes, gzip) and read back as the webview reads it (lineIndexFromBytes,
// sourceOfLine). The old explorer rule (nearest `@ file:line` above) is kept here only to show
// that a fixture tells the two apart. Also: the log-file helpers that replaced the extension's
// own noise list and annotation regex. No kernel, no compiler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { lineIndexFromBytes, lineIndexToBytes, type ProgramLoadResult } from '../../protocol/src';
import { btfLineInfo } from '../../core/src/verifier/btfLines';
import { annotatedFile, parseSourceLine } from '../../core/src/verifier/lines';
import {
  instructions,
  looksRejected,
  parseProgramLog,
  sourceOfLine,
  type LineSources,
} from '../../core/src/verifier/parse';
import { sourceIndex, toDiagnostics } from '../../core/src/verifier/verify';
import { repoRoot } from '../support/repo';

const root = repoRoot(process.cwd());
const logDir = join(root, 'test/fixtures/verifier-logs');
const sourceDir = join(root, 'test/fixtures/bpf/verifier');
const TRACEPOINT = 'tracepoint/syscalls/sys_enter_read';

/** Every fixture log: the program it is the log of (see the fixtures' README), and its object if kept. */
const FIXTURES: Record<string, { program: string; section: string; rejected: boolean; object?: string }> = {
  'accepted_subprog.log': { program: 'count_reads', section: TRACEPOINT, rejected: false },
  'accepted_subprog.stats.log': { program: 'count_reads', section: TRACEPOINT, rejected: false },
  'bad_return_branches.level2.log': { program: 'audit_raw', section: 'cgroup/sock_create', rejected: true },
  'bad_return_cgroup_sock.log': {
    program: 'deny_raw',
    section: 'cgroup/sock_create',
    rejected: true,
    object: 'bad_return_cgroup_sock.bpf.o',
  },
  'bad_return_cgroup_sock.level2.log': {
    program: 'deny_raw',
    section: 'cgroup/sock_create',
    rejected: true,
    object: 'bad_return_cgroup_sock.bpf.o',
  },
  'global_func_fault.log': { program: 'count_reads', section: TRACEPOINT, rejected: true },
  'loop_infinite.log': { program: 'spin', section: TRACEPOINT, rejected: true },
  'loop_jump_sequence.truncated.log': { program: 'sum_table', section: TRACEPOINT, rejected: true },
  'null_hash_lookup.bpftool.log': { program: 'count_reads', section: TRACEPOINT, rejected: true },
  'null_hash_lookup.log': { program: 'count_reads', section: TRACEPOINT, rejected: true },
  'oob_map_value.log': { program: 'count_by_fd', section: TRACEPOINT, rejected: true },
  'packet_tc_short_check.log': { program: 'tcp_only', section: 'tc', rejected: true },
  'subprog_fault.log': { program: 'count_reads', section: TRACEPOINT, rejected: true, object: 'subprog_fault.bpf.o' },
  'subprog_fault.level2.log': {
    program: 'count_reads',
    section: TRACEPOINT,
    rejected: true,
    object: 'subprog_fault.bpf.o',
  },
  'subprog_fault.no-file.log': {
    program: 'count_reads',
    section: TRACEPOINT,
    rejected: true,
    object: 'subprog_fault.bpf.o',
  },
  'uninit_stack_key.log': { program: 'uninit_key', section: 'xdp', rejected: true },
  'unreleased_ringbuf.log': { program: 'log_write', section: 'tracepoint/syscalls/sys_enter_write', rejected: true },
};

/** The .bpf.c a log is of: the file its annotations name, else the fixture of the log's name. */
function sourceOf(logName: string, log: string): string | undefined {
  const name = annotatedFile(log) ?? `${logName.split('.')[0]}.bpf.c`;
  return [join(sourceDir, name), join(logDir, name)].find((p) => existsSync(p));
}

/** The table as the webview gets it: through the wire encoding and gzip, and back. */
function overTheWire(lines: LineSources): LineSources {
  const gz = gzipSync(lineIndexToBytes(lines.at));
  return { locations: lines.locations, at: lineIndexFromBytes(new Uint8Array(gunzipSync(gz))) };
}

/** The explorer's old rule, for contrast: the nearest `; … @ file:line` at or above line i. */
function nearestAnnotationAbove(lines: string[], i: number): number | null {
  for (let j = i; j >= 0; j--) {
    const s = lines[j]?.startsWith(';') ? parseSourceLine(lines[j] ?? '') : null;
    if (s?.file && s.line) return s.line;
  }
  return null;
}

function parseFixture(name: string) {
  const f = FIXTURES[name];
  assert.ok(f, `${name} is described in FIXTURES`);
  const log = readFileSync(join(logDir, name), 'utf8');
  const source = sourceOf(name, log);
  const files = sourceIndex(source);
  const btfLines = f.object ? btfLineInfo(readFileSync(join(logDir, f.object)), f.section, f.program) : undefined;
  const opts = { sources: new Map([...files].map(([n, x]) => [n, x.text])), ...(btfLines ? { btfLines } : {}) };
  const parsed = parseProgramLog(log, { name: f.program, section: f.section, rejected: f.rejected }, opts);
  const load: ProgramLoadResult = {
    name: f.program,
    section: f.section,
    type: '',
    errno: f.rejected ? 13 : 0,
    logGz: '',
    logBytes: log.length,
    libbpfMessage: '',
  };
  return { log, opts, parsed, diagnostics: toDiagnostics({ load, verdict: parsed.verdict }, files, source) };
}

test('every fixture log is covered', () => {
  const logs = readdirSync(logDir).filter((n) => n.endsWith('.log'));
  assert.deepEqual(logs.sort(), Object.keys(FIXTURES).sort());
});

for (const name of Object.keys(FIXTURES)) {
  test(`${name}: the explorer opens the diagnostic's line for the failing instruction`, () => {
    const { log, opts, parsed, diagnostics } = parseFixture(name);
    const { verdict, lines } = parsed;
    assert.equal(lines.at.length, log.split('\n').length, 'one table entry per log line');
    const table = overTheWire(lines);
    assert.deepEqual(table.at, lines.at, 'the table survives the wire');
    // Every instruction line is where core's instruction walk puts it.
    for (const insn of instructions(log, opts)) assert.deepEqual(sourceOfLine(table, insn.logLine), insn.source);
    if (!verdict.error) {
      assert.equal(diagnostics.length, 0);
      return;
    }
    const explorer = sourceOfLine(table, verdict.error.logLine);
    assert.deepEqual(explorer, verdict.error.location, 'the explorer and the verdict name one location');
    if (verdict.error.location) {
      const [diag] = diagnostics;
      assert.ok(diag, 'a located rejection has a diagnostic');
      assert.equal(explorer?.line, diag.line);
      assert.equal(explorer?.file, verdict.error.location.file);
      assert.ok(diag.file.endsWith(verdict.error.location.file), diag.file);
    }
  });
}

test('bad_return_cgroup_sock.log: after a resumed path the explorer opens line 23, where the old rule said 21', () => {
  const { log, parsed, diagnostics } = parseFixture('bad_return_cgroup_sock.log');
  const failing = parsed.verdict.error?.logLine ?? -1;
  assert.equal(diagnostics[0]?.line, 23);
  assert.equal(sourceOfLine(overTheWire(parsed.lines), failing)?.line, 23);
  assert.equal(nearestAnnotationAbove(log.split('\n'), failing), 21, 'the fixture tells the two rules apart');
});

test('lines around an instruction take its location: annotation, state, branch, reason', () => {
  const { log, parsed } = parseFixture('bad_return_cgroup_sock.level2.log');
  const lines = log.split('\n');
  const at = (text: string, from = 0): number => lines.indexOf(text, from);
  const lineOf = (i: number): number | undefined => sourceOfLine(parsed.lines, i)?.line;
  const branch = at('from 6 to 8: R0=2 R1=0 R2=0 R3=3 R10=fp0');
  assert.ok(branch > 0);
  // The branch, the full state of insn 8 and insn 8 itself are line 23 (the annotation printed on the first path).
  assert.deepEqual([lineOf(branch), lineOf(branch + 1), lineOf(branch + 2)], [23, 23, 23]);
  // An annotation is the line of the instruction it annotates.
  assert.equal(lineOf(at('; if (sk->protocol == 0) @ bad_return_cgroup_sock.bpf.c:21')), 21);
  // The kernel's reason is the failing instruction's line.
  assert.equal(lineOf(lines.findIndex((l) => l.startsWith('At program exit'))), 23);
  // The liveness table before the walk has no source.
  assert.equal(lineOf(at('Live regs before insn:')), undefined);
});

test('lineIndexToBytes is little-endian int32 and round-trips -1 and large indices', () => {
  const at = Int32Array.from([-1, 0, 1, 258, 2 ** 31 - 1]);
  const bytes = lineIndexToBytes(at);
  assert.deepEqual([...bytes.slice(0, 8)], [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
  assert.deepEqual([...bytes.slice(12, 16)], [2, 1, 0, 0]);
  assert.deepEqual(lineIndexFromBytes(bytes), at);
});

test('log files: rejected or not, and the source they annotate, are core rules', () => {
  for (const [name, f] of Object.entries(FIXTURES)) {
    assert.equal(looksRejected(readFileSync(join(logDir, name), 'utf8')), f.rejected, name);
  }
  assert.equal(annotatedFile(readFileSync(join(logDir, 'subprog_fault.log'), 'utf8')), 'subprog_fault.bpf.c');
  assert.equal(annotatedFile(readFileSync(join(logDir, 'subprog_fault.no-file.log'), 'utf8')), null);
  assert.equal(annotatedFile('; x = 1; @ ../../etc/passwd:3\n'), null, 'only a basename can name the source');
});
