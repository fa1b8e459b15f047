// The verifier corpus against the real kernel (run as root): every fixture in
// test/fixtures/bpf/verifier/ is compiled with compileBpf and each of its programs is loaded on
// its own (the others' autoload off, since libbpf stops at the first failure) with log level 1,
// growing the log buffer while the kernel says it was cut. Proves that the parser
// (core/src/verifier/parse.ts) finds the line, file and class each fixture marks with
// `/* EXPECT: <class> [in <program>] */`, that unmarked programs are accepted with real
// statistics, that the source-text and BTF fallbacks find the same lines, that the BTF line
// info of each loaded layout (btfLines.ts) agrees with every annotation the kernel printed and
// with llvm-objdump, and that nothing stays loaded.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileBpf } from '../../core/src/build/clang';
import { btfLineInfo, type BtfLineInfo } from '../../core/src/verifier/btfLines';
import type { ProgramVerdict, VerifierClass } from '../../core/src/verifier/model';
import { instructions, parseVerifierLog } from '../../core/src/verifier/parse';
import type { Addon, BpfObject } from '../../remote-agent/src/native';
import { bpfPrograms } from '../support/kernel';
import { repoRoot } from '../support/repo';

// The bundled test may run from outside the repository; the test runners start it in the root.
const root = repoRoot(process.cwd());
// eslint-disable-next-line @typescript-eslint/no-require-imports
const addon = require(join(root, 'remote-agent/native/build/Release/dfs_bpf.node')) as Addon;
const fixtureDir = join(root, 'test/fixtures/bpf/verifier');
const buildDir = mkdtempSync(join(tmpdir(), 'dfs-verifier-corpus-'));
const fixtures = readdirSync(fixtureDir)
  .filter((f) => f.endsWith('.bpf.c'))
  .sort();

const FIRST_LOG_SIZE = 1 << 20;
const MAX_LOG_SIZE = 2 ** 30 - 1; // the kernel's limit, UINT32_MAX >> 2
const KNOWN_CLASSES = new Set<VerifierClass>([
  'null-check',
  'out-of-bounds',
  'unbounded-index',
  'uninit-stack',
  'packet-access',
  'helper-not-allowed',
  'bad-return',
  'loop-complexity',
  'unreleased-reference',
  'invalid-context',
]);

interface Expectation {
  class: VerifierClass;
  line: number;
  /** The program the marker names, or null for "the object's only program". */
  program: string | null;
}

interface Loaded {
  fixture: string;
  program: string;
  section: string;
  errno: number;
  log: string;
  logSize: number;
  btfLines: BtfLineInfo[];
  verdict: ProgramVerdict;
}

/** The `/* EXPECT: <class> [in <program>] *\/` markers of a fixture, with their 1-based lines. */
function expectations(source: string): Expectation[] {
  const out: Expectation[] = [];
  source.split('\n').forEach((text, i) => {
    const m = /\/\* EXPECT: ([\w-]+)(?: in (\w+))? \*\//.exec(text);
    if (m) out.push({ class: m[1] as VerifierClass, line: i + 1, program: m[2] ?? null });
  });
  return out;
}

const loaded: Loaded[] = [];
const loadedIds = new Set<number>();

/** Load one program of an object by itself, growing the log buffer ×4 while it was cut. */
function loadAlone(elf: Buffer, fixture: string, program: string): { errno: number; log: string; logSize: number } {
  for (let logSize = FIRST_LOG_SIZE; ; logSize = Math.min(logSize * 4, MAX_LOG_SIZE)) {
    const obj: BpfObject = addon.openObject(elf, { name: fixture, logLevel: 1, logSize });
    try {
      for (const other of obj.programs()) if (other.name !== program) obj.setAutoload(other.name, false);
      const result = obj.load();
      for (const prog of obj.programs()) if (prog.id) loadedIds.add(prog.id);
      const own = result.programs.find((p) => p.name === program);
      assert.ok(own, `${fixture}: no log for ${program}`);
      if (!own.truncated || logSize === MAX_LOG_SIZE) return { errno: result.errno, log: own.log, logSize };
    } finally {
      obj.close();
    }
  }
}

before(async () => {
  assert.equal(process.getuid?.(), 0, 'this integration test needs root');
  const compiled = await Promise.all(
    fixtures.map((f) => compileBpf(join(fixtureDir, f), buildDir, { includeDirs: [fixtureDir] })),
  );
  for (const c of compiled) assert.ok(c.ok, `${c.source}:\n${c.stderr}`);
  for (const fixture of fixtures) {
    const elf = readFileSync(join(buildDir, fixture.replace(/\.c$/, '.o')));
    const listing = addon.openObject(elf, { name: fixture, logLevel: 0, logSize: 0 });
    const programs = listing.programs();
    listing.close();
    for (const { name, section } of programs) {
      const { errno, log, logSize } = loadAlone(elf, fixture, name);
      const btfLines = btfLineInfo(elf, section, name);
      const verdict = parseVerifierLog(log, { name, section, rejected: errno !== 0 }, { btfLines });
      loaded.push({ fixture, program: name, section, errno, log, logSize, btfLines, verdict });
    }
  }
});

after(() => {
  rmSync(buildDir, { recursive: true, force: true });
});

test('the corpus covers every class, a subprogram fault, a second-program fault and accepted programs', (t) => {
  const marked = fixtures.flatMap((f) => expectations(readFileSync(join(fixtureDir, f), 'utf8')));
  assert.ok(fixtures.length >= 20, `only ${fixtures.length} fixtures`);
  assert.deepEqual(new Set(marked.map((e) => e.class)), KNOWN_CLASSES);
  assert.ok(
    marked.some((e) => e.program !== null),
    'no fixture marks a fault in a named program',
  );
  assert.ok(loaded.filter((l) => l.verdict.verdict === 'accepted').length >= 3);
  const rows = loaded.map((l) => {
    const e = l.verdict.error;
    const where = e ? `${e.location?.line ?? '?'} (${e.locatedBy ?? '-'})` : '';
    return [l.fixture, l.program, l.verdict.verdict, e?.class ?? '', where, String(l.verdict.insnsProcessed)];
  });
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0))) ?? [];
  for (const row of rows) t.diagnostic(row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  '));
});

test('each marked program is rejected at the marked line and file, with the marked class', () => {
  for (const fixture of fixtures) {
    const marks = expectations(readFileSync(join(fixtureDir, fixture), 'utf8'));
    const programs = loaded.filter((l) => l.fixture === fixture);
    for (const mark of marks) {
      const target = mark.program ?? (programs.length === 1 ? programs[0]?.program : undefined);
      assert.ok(target, `${fixture}:${mark.line}: the marker must name one of several programs`);
      const l = programs.find((p) => p.program === target);
      assert.ok(l, `${fixture}: no program ${target}`);
      const e = l.verdict.error;
      const at = `${fixture} ${target} (errno ${l.errno}):\n${l.log.slice(-3000)}`;
      assert.notEqual(l.errno, 0, at);
      assert.equal(l.verdict.verdict, 'rejected', at);
      assert.deepEqual(
        { file: e?.location?.file, line: e?.location?.line, class: e?.class },
        { file: fixture, line: mark.line, class: mark.class },
        at,
      );
      assert.ok(e?.message && e.message !== 'the verifier log gives no reason', at);
      assert.ok(e.insn !== null && e.insn >= 0, at);
    }
  }
});

test('every unmarked program is accepted, with statistics from the real log', () => {
  for (const fixture of fixtures) {
    const marks = expectations(readFileSync(join(fixtureDir, fixture), 'utf8'));
    for (const l of loaded.filter((p) => p.fixture === fixture)) {
      if (marks.some((m) => m.program === null || m.program === l.program)) continue;
      assert.equal(l.errno, 0, `${fixture} ${l.program}:\n${l.log}`);
      assert.equal(l.verdict.verdict, 'accepted');
      assert.equal(l.verdict.error, null);
      assert.ok((l.verdict.insnsProcessed ?? 0) > 0, `${l.program}: ${l.log}`);
      assert.ok(l.verdict.states !== null && l.verdict.states >= 0, `${l.program}: ${l.log}`);
      assert.ok(l.verdict.peakStates !== null && l.verdict.maxStatesPerInsn !== null);
    }
  }
});

test('without "@ file:line" the source text finds the same line; without annotations BTF does', () => {
  for (const l of loaded.filter((p) => p.verdict.error)) {
    const expected = l.verdict.error;
    const program = { name: l.program, section: l.section, rejected: true };
    const sources = new Map([[l.fixture, readFileSync(join(fixtureDir, l.fixture), 'utf8')]]);
    const noFile = l.log.replace(/ @ [^\s:]+:\d+$/gm, '');
    assert.ok(!/ @ \S+:\d+$/m.test(noFile));
    const byText = parseVerifierLog(noFile, program, { sources, btfLines: l.btfLines }).error;
    // BTF outranks an annotation only where the kernel left one out (then it does here too).
    const textBy = expected?.locatedBy === 'btf-line-info' ? 'btf-line-info' : 'source-text';
    assert.deepEqual(
      [byText?.location?.file, byText?.location?.line, byText?.locatedBy],
      [l.fixture, expected?.location?.line, textBy],
      `${l.fixture} ${l.program}`,
    );
    const noAnnotations = l.log
      .split('\n')
      .filter((line) => !line.startsWith(';'))
      .join('\n');
    const byBtf = parseVerifierLog(noAnnotations, program, { btfLines: l.btfLines }).error;
    assert.deepEqual(
      [byBtf?.location?.file, byBtf?.location?.line, byBtf?.locatedBy],
      [l.fixture, expected?.location?.line, 'btf-line-info'],
      `${l.fixture} ${l.program}`,
    );
  }
});

test('the BTF line info of each loaded program agrees with every line the kernel annotated', () => {
  let compared = 0;
  for (const l of loaded.filter((p) => p.verdict.error)) {
    const annotated = instructions(l.log, { btfLines: l.btfLines });
    const fromBtf = instructions(
      l.log
        .split('\n')
        .filter((line) => !line.startsWith(';'))
        .join('\n'),
      { btfLines: l.btfLines },
    );
    assert.equal(annotated.length, fromBtf.length);
    annotated.forEach((insn, i) => {
      if (!insn.source) return;
      compared++;
      assert.equal(fromBtf[i]?.source?.line, insn.source.line, `${l.fixture} ${l.program} insn ${insn.insn}`);
    });
  }
  assert.ok(compared > 1000, `only ${compared} instructions compared`);
});

/** Per section of an object: the line llvm-objdump (DWARF) puts each instruction on, and function starts. */
function objdumpLines(object: string): { lines: Map<string, Map<number, number>>; starts: Map<string, Set<number>> } {
  const lines = new Map<string, Map<number, number>>();
  let section: Map<number, number> | undefined;
  let line = 0;
  for (const text of execFileSync('llvm-objdump', ['-d', '-l', '--no-show-raw-insn', object], {
    encoding: 'utf8',
  }).split('\n')) {
    const header = /^Disassembly of section (.+):$/.exec(text);
    const marker = /^; \S+:(\d+)$/.exec(text);
    const insn = /^\s+(\d+):\t/.exec(text);
    if (header) {
      section = new Map<number, number>();
      lines.set(header[1] ?? '', section);
      line = 0;
    } else if (marker) {
      line = Number(marker[1]);
    } else if (insn && section) {
      section.set(Number(insn[1]), line);
    }
  }
  // Symbol table rows: "<value> <flags> F <section>\t<size> <name>".
  const starts = new Map<string, Set<number>>();
  for (const text of execFileSync('llvm-objdump', ['-t', object], { encoding: 'utf8' }).split('\n')) {
    const m = /^([0-9a-f]+) .{6}F (\S+)\t/.exec(text);
    if (m) starts.set(m[2] ?? '', (starts.get(m[2] ?? '') ?? new Set()).add(parseInt(m[1] ?? '0', 16) / 8));
  }
  return { lines, starts };
}

test('the BTF line info of each section agrees with llvm-objdump -l, except at function entries', () => {
  // A function's first BTF record names its declaration line; DWARF names the first body line.
  let compared = 0;
  for (const fixture of fixtures) {
    const object = join(buildDir, fixture.replace(/\.c$/, '.o'));
    const elf = readFileSync(object);
    const { lines, starts } = objdumpLines(object);
    for (const [section, byInsn] of lines) {
      const records = btfLineInfo(elf, section).filter((r) => r.line > 0);
      assert.ok(records.length > 0, `${fixture} ${section}: no line info`);
      for (const [insn, line] of byInsn) {
        const record = records.filter((r) => r.insn <= insn).pop();
        if (!record || starts.get(section)?.has(record.insn)) continue;
        compared++;
        assert.equal(record.line, line, `${fixture} ${section} insn ${insn}`);
        assert.equal(record.file, fixture);
      }
    }
  }
  assert.ok(compared > 300, `only ${compared} instructions compared`);
});

test('logs that outgrow the first buffer are complete after growing it', () => {
  const grown = loaded.filter((l) => l.logSize > FIRST_LOG_SIZE);
  assert.ok(grown.length >= 2, 'the loop fixtures should need more than 1 MiB of log');
  for (const l of grown) {
    assert.ok(l.log.length > l.logSize / 4, `${l.program}: ${l.log.length} bytes in a ${l.logSize}-byte buffer`);
    assert.match(l.log, /^0: R1=ctx\(\) R10=fp0$/m, `${l.program}: the head of the log is missing`);
  }
});

test('nothing the corpus loaded stays in the kernel', () => {
  assert.ok(loadedIds.size >= 3, 'the accepted programs were loaded');
  const remaining = new Set(bpfPrograms().map((p) => p.id));
  assert.deepEqual(
    [...loadedIds].filter((id) => remaining.has(id)),
    [],
  );
});
