/**
 * Integration test of the libbpf addon (remote-agent/native) against the real kernel; run as root.
 * Proves the contract declared in remote-agent/src/native.ts: objects open, load and describe
 * themselves; verifier rejections come back with the kernel's reason and source line; bad input
 * throws TypeError/RangeError and failures throw NativeError (errno + op), never a crash; links
 * attach to cgroups, sockhashes and tracepoints and detach idempotently in any order with close();
 * map ops round-trip raw bytes and refuse wrong sizes; nothing stays loaded afterwards.
 * Fixtures live in test/fixtures/bpf/native/ and are compiled with clang into a temp dir.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync } from 'node:fs';
import { constants, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { builtAddon, repoRoot } from '../support/repo';
import type { BpfLink, BpfObject, NativeError } from '../../remote-agent/src/native';

const { ENOENT, EINVAL, EBADF, EEXIST, EBUSY } = constants.errno;
const EBADFD = 77; // Linux-only, so not in os.constants
const BPF_MAP_TYPE_PERCPU_ARRAY = 6;
const BPF_NOEXIST = 1;

const root = repoRoot();
const addon = builtAddon();
const fixtureDir = join(root, 'test/fixtures/bpf/native');
const buildDir = mkdtempSync(join(tmpdir(), 'dfs-native-test-'));
/** Every program id this test loaded; none may be left in the kernel at the end. */
const loadedProgIds = new Set<number>();
let mountedTracefs = false;

const clangFlags = '-O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu'.split(' ');

function compile(name: string): void {
  execFileSync('clang', [
    ...clangFlags,
    '-c',
    join(fixtureDir, `${name}.bpf.c`),
    '-o',
    join(buildDir, `${name}.bpf.o`),
  ]);
}

function open(name: string, logLevel = 1, logSize = 1 << 20): BpfObject {
  return addon.openObject(readFileSync(join(buildDir, `${name}.bpf.o`)), { name: `${name}.bpf.o`, logLevel, logSize });
}

/** Open and load `name`, run `body`, and always close the object. */
function withLoaded<T>(name: string, body: (obj: BpfObject) => T): T {
  const obj = open(name);
  try {
    const result = obj.load();
    assert.equal(result.errno, 0, result.log);
    for (const prog of obj.programs()) loadedProgIds.add(prog.id);
    return body(obj);
  } finally {
    obj.close();
  }
}

/** `errno` may list alternatives: kernels differ, e.g. EBADF or EBADFD for a closed fd. */
function expectNativeError(fn: () => unknown, errno: number | number[], op: string, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof Error);
    const native = error as NativeError;
    assert.ok([errno].flat().includes(native.errno), `errno ${native.errno}: ${native.message}`);
    assert.equal(native.op, op);
    if (message) assert.match(native.message, message);
    return true;
  });
}

function bpftoolIds(kind: 'prog' | 'link'): Set<number> {
  const entries = JSON.parse(execFileSync('bpftool', [kind, 'show', '-j'], { encoding: 'utf8' })) as { id: number }[];
  return new Set(entries.map((entry) => entry.id));
}

function kernelAtLeast(major: number, minor: number): boolean {
  const [maj = 0, min = 0] = release().split('.').map(Number);
  return maj > major || (maj === major && min >= minor);
}

function u32(value: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt32LE(value);
  return buf;
}

function u64(value: bigint): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64LE(value);
  return buf;
}

before(() => {
  assert.equal(process.getuid?.(), 0, 'this integration test needs root');
  for (const name of ['basic', 'rejected', 'ringbuf']) compile(name);
  // libbpf resolves tracepoint ids through tracefs.
  const mounts = readFileSync('/proc/mounts', 'utf8');
  if (!mounts.split('\n').some((line) => line.split(' ')[2] === 'tracefs')) {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing']);
    mountedTracefs = true;
  }
});

after(() => {
  rmSync(buildDir, { recursive: true, force: true });
  if (mountedTracefs) execFileSync('umount', ['/sys/kernel/tracing']);
});

test('reports the libbpf version and the possible CPUs', () => {
  // The pinned libbpf 1.7 linked into the addon (scripts/libbpf.mjs), never the system's 1.1.
  assert.equal(addon.libbpfVersion(), 'v1.7');
  assert.doesNotMatch(
    execFileSync('readelf', ['-d', join(root, 'remote-agent/native/build/Release/dfs_bpf.node')], { encoding: 'utf8' }),
    /libbpf\.so/,
  );
  // /sys/devices/system/cpu/possible is a range list such as "0-1" or "0,2-3".
  const possible = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim().split(',');
  const count = possible.reduce((sum, range) => {
    const [lo = 0, hi = lo] = range.split('-').map(Number);
    return sum + hi - lo + 1;
  }, 0);
  assert.equal(addon.numPossibleCpus(), count);
});

test('opens and loads an object and describes its programs and maps', () => {
  const obj = open('basic');
  try {
    const opened = obj.programs();
    assert.deepEqual(
      opened.map(({ name, section, type, attachType, id }) => ({ name, section, type, attachType, id })),
      [
        { name: 'on_sockops', section: 'sockops', type: 'sock_ops', attachType: 'cgroup_sock_ops', id: 0 },
        { name: 'on_msg', section: 'sk_msg', type: 'sk_msg', attachType: 'sk_msg_verdict', id: 0 },
        {
          name: 'count_getppid',
          section: 'tracepoint/syscalls/sys_enter_getppid',
          type: 'tracepoint',
          attachType: '',
          id: 0,
        },
      ],
    );
    assert.ok(opened.every((prog) => prog.insnCount > 0));
    assert.deepEqual(
      obj.maps().find((map) => map.name === 'per_cpu'),
      { name: 'per_cpu', type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 2, id: 0 },
    );

    const result = obj.load();
    assert.deepEqual({ errno: result.errno, logTruncated: result.logTruncated }, { errno: 0, logTruncated: false });
    // Level 1 logs end each program with its statistics: one line per program, in load order.
    assert.equal(result.log.match(/^processed \d+ insns/gm)?.length, 3, result.log);

    const loaded = obj.programs();
    for (const prog of loaded) loadedProgIds.add(prog.id);
    assert.deepEqual(
      loaded.map((prog) => prog.insnCount),
      opened.map((prog) => prog.insnCount),
    );
    const kernelIds = bpftoolIds('prog');
    for (const prog of loaded) {
      assert.ok(kernelIds.has(prog.id), `program ${prog.name} (id ${prog.id}) is not in bpftool`);
      assert.equal(addon.progNameById(prog.id), prog.name);
    }
    const kv = obj.maps().find((map) => map.name === 'kv');
    assert.ok(kv && kv.id > 0);
    assert.deepEqual(addon.mapInfo(obj.mapFd('kv')), {
      id: kv.id,
      name: 'kv',
      type: 1,
      keySize: 4,
      valueSize: 8,
      maxEntries: 16,
    });
    assert.ok(obj.programFd('on_msg') > 0);
    expectNativeError(() => obj.load(), EINVAL, 'bpf_object__load');
    expectNativeError(() => obj.mapFd('nope'), ENOENT, 'bpf_object__find_map_by_name');
  } finally {
    obj.close();
  }
});

test('returns the verifier rejection with its reason and source line', () => {
  const source = readFileSync(join(fixtureDir, 'rejected.bpf.c'), 'utf8').split('\n');
  const line = source.findIndex((text) => text.includes('/* REJECTED')) + 1;
  const obj = open('rejected');
  try {
    const result = obj.load();
    assert.notEqual(result.errno, 0);
    assert.equal(result.logTruncated, false);
    assert.match(result.log, /invalid mem access 'map_value_or_null'/);
    assert.ok(result.log.includes(`@ rejected.bpf.c:${line}\n`), result.log);
    assert.deepEqual(
      obj.programs().map((prog) => prog.id),
      [0],
    );
  } finally {
    obj.close();
  }
});

test('reports a log that does not fit its buffer as truncated', () => {
  const obj = open('rejected', 1, 128);
  try {
    const result = obj.load();
    assert.notEqual(result.errno, 0);
    assert.equal(result.logTruncated, true);
    assert.ok(result.log.length < 128);
  } finally {
    obj.close();
  }
});

test('throws NativeError for buffers that are not BPF objects', () => {
  const opts = { name: 'bogus', logLevel: 0, logSize: 0 };
  expectNativeError(
    () => addon.openObject(Buffer.from('not an ELF file'), opts),
    EINVAL,
    'bpf_object__open_mem',
    /not a proper ELF/,
  );
  expectNativeError(
    () => addon.openObject(readFileSync('/bin/true'), opts),
    EINVAL,
    'bpf_object__open_mem',
    /not a valid eBPF object/,
  );
  expectNativeError(() => addon.openObject(Buffer.alloc(0), opts), EINVAL, 'bpf_object__open_mem');
});

test('rejects bad arguments, and any use of a closed object', () => {
  const elf = readFileSync(join(buildDir, 'basic.bpf.o'));
  const untyped = addon as unknown as { openObject(elf: unknown, opts: unknown): unknown };
  assert.throws(() => untyped.openObject('elf', { name: 'x', logLevel: 0, logSize: 0 }), TypeError);
  assert.throws(() => untyped.openObject(elf, null), TypeError);
  assert.throws(() => untyped.openObject(elf, { name: 'x', logLevel: '1', logSize: 0 }), TypeError);
  assert.throws(() => addon.openObject(elf, { name: 'x', logLevel: 8, logSize: 0 }), RangeError);
  assert.throws(() => addon.openObject(elf, { name: 'x', logLevel: 1, logSize: 64 }), RangeError);
  assert.throws(() => addon.openObject(elf, { name: '', logLevel: 0, logSize: 0 }), RangeError);
  assert.throws(() => addon.mapInfo(-1), RangeError);
  assert.throws(() => addon.mapInfo(1.5), RangeError);
  assert.throws(() => addon.probeProgType('bogus'), RangeError);
  assert.throws(() => addon.probeMapType('bogus'), RangeError);
  expectNativeError(() => addon.mapInfo(1 << 30), [EBADF, EBADFD], 'bpf_obj_get_info_by_fd');

  const obj = addon.openObject(elf, { name: 'basic.bpf.o', logLevel: 0, logSize: 0 });
  expectNativeError(() => obj.programFd('on_msg'), EBADF, 'bpf_program__fd', /not loaded/);
  obj.close();
  obj.close();
  expectNativeError(() => obj.programs(), EBADF, 'programs', /closed/);
  expectNativeError(() => obj.load(), EBADF, 'bpf_object__load');
});

test('probes program and map types', () => {
  assert.equal(addon.probeProgType('sock_ops'), 1);
  assert.equal(addon.probeProgType('sk_msg'), 1);
  assert.equal(addon.probeMapType('sockhash'), 1);
  assert.equal(addon.probeMapType('percpu_array'), 1);
});

/** Attach on_msg to sock_hash and check that the kernel lists the link. */
function attachSkMsg(obj: BpfObject): BpfLink {
  const link = obj.attachToMap('on_msg', 'sock_hash', 'sk_msg_verdict');
  if (kernelAtLeast(6, 10)) {
    assert.ok(link.id > 0, 'kernels since 6.10 attach sk_msg to a sockhash as a BPF link');
    assert.ok(bpftoolIds('link').has(link.id));
  } else {
    assert.equal(link.id, 0);
  }
  return link;
}

test('attaches sk_msg to a sockhash and detaches idempotently', () => {
  withLoaded('basic', (obj) => {
    for (let round = 0; round < 2; round++) {
      // A second attach succeeds only if the first one was really detached.
      const link = attachSkMsg(obj);
      link.destroy();
      link.destroy();
      assert.equal(bpftoolIds('link').has(link.id), false);
    }
    assert.throws(() => obj.attachToMap('on_msg', 'sock_hash', 'bogus' as 'sk_msg_verdict'), RangeError);
    expectNativeError(
      () => obj.attachToMap('nope', 'sock_hash', 'sk_msg_verdict'),
      ENOENT,
      'bpf_object__find_program_by_name',
    );
  });
});

test('a link stays valid after its object is closed', () => {
  const { link, progId } = withLoaded('basic', (obj) => ({
    link: attachSkMsg(obj),
    progId: obj.programs().find((prog) => prog.name === 'on_msg')?.id,
  }));
  // The object is closed; the link still holds its program.
  assert.equal(addon.progNameById(progId ?? 0), 'on_msg');
  link.destroy();
  link.destroy();
  assert.equal(bpftoolIds('link').has(link.id), false);
  assert.equal(addon.progNameById(progId ?? 0), null);
});

test('attaches sock_ops to a cgroup and reports it through bpf_prog_query', () => {
  const mount = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .find((fields) => fields[2] === 'cgroup2')?.[1];
  assert.ok(mount, 'no cgroup2 mount');
  const cgroup = join(mount, `dfs-native-test-${process.pid}`);
  mkdirSync(cgroup);
  try {
    withLoaded('basic', (obj) => {
      const progId = obj.programs().find((prog) => prog.name === 'on_sockops')?.id;
      assert.ok(progId);
      assert.deepEqual(addon.cgroupProgIds(cgroup, 'cgroup_sock_ops'), []);
      const link = obj.attachCgroup('on_sockops', cgroup);
      assert.ok(link.id > 0);
      assert.deepEqual(addon.cgroupProgIds(cgroup, 'cgroup_sock_ops'), [progId]);
      link.destroy();
      assert.deepEqual(addon.cgroupProgIds(cgroup, 'cgroup_sock_ops'), []);
      link.destroy();
      expectNativeError(() => obj.attachCgroup('on_sockops', join(cgroup, 'missing')), ENOENT, 'open');
    });
    assert.throws(() => addon.cgroupProgIds(cgroup, 'bogus'), RangeError);
    assert.equal(addon.progNameById(0xffffffff), null);
  } finally {
    rmdirSync(cgroup);
  }
});

test('round-trips map elements and refuses wrong sizes', () => {
  withLoaded('basic', (obj) => {
    const kv = obj.mapFd('kv');
    const key = u32(7);
    assert.equal(addon.mapLookup(kv, key, 8), null);
    addon.mapUpdate(kv, key, u64(42n), 0);
    assert.deepEqual(addon.mapLookup(kv, key, 8), u64(42n));
    expectNativeError(() => addon.mapUpdate(kv, key, u64(1n), BPF_NOEXIST), EEXIST, 'bpf_map_update_elem');
    assert.deepEqual(addon.mapNextKey(kv, null, 4), key);
    assert.equal(addon.mapNextKey(kv, key, 4), null);
    assert.equal(addon.mapDelete(kv, key), true);
    assert.equal(addon.mapDelete(kv, key), false);
    assert.throws(() => addon.mapLookup(kv, Buffer.alloc(3), 8), RangeError);
    assert.throws(() => addon.mapLookup(kv, key, 4), RangeError);
    assert.throws(() => addon.mapUpdate(kv, key, Buffer.alloc(4), 0), RangeError);
    assert.throws(() => addon.mapDelete(kv, Buffer.alloc(8)), RangeError);
    assert.throws(() => addon.mapNextKey(kv, null, 8), RangeError);
    assert.throws(() => addon.mapUpdate(kv, key, u64(1n), 8), RangeError);

    const perCpu = obj.mapFd('per_cpu');
    const cpus = addon.numPossibleCpus();
    const values = Buffer.concat(Array.from({ length: cpus }, (_, cpu) => u64(BigInt(cpu + 100))));
    addon.mapUpdate(perCpu, u32(1), values, 0);
    assert.deepEqual(addon.mapLookup(perCpu, u32(1), cpus * 8), values);
    assert.deepEqual(addon.mapLookup(perCpu, u32(0), cpus * 8), Buffer.alloc(cpus * 8));
    assert.throws(() => addon.mapLookup(perCpu, u32(1), 8 * (cpus + 1)), RangeError);
    assert.throws(() => addon.mapUpdate(perCpu, u32(1), u64(1n), 0), RangeError);
    assert.equal(addon.mapLookup(perCpu, u32(2), cpus * 8), null); // past max_entries
    assert.deepEqual(addon.mapInfo(perCpu), {
      id: obj.maps().find((map) => map.name === 'per_cpu')?.id,
      name: 'per_cpu',
      type: BPF_MAP_TYPE_PERCPU_ARRAY,
      keySize: 4,
      valueSize: 8,
      maxEntries: 2,
    });
    expectNativeError(() => addon.mapInfo(obj.programFd('on_msg')), EINVAL, 'bpf_obj_get_info_by_fd', /not a BPF map/);
  });
});

test('attaches a tracepoint program with attachAuto', () => {
  withLoaded('basic', (obj) => {
    const calls = obj.mapFd('getppid_calls');
    const count = (): bigint => addon.mapLookup(calls, u32(1), 8)!.readBigUInt64LE();
    addon.mapUpdate(calls, u32(0), u64(BigInt(process.pid)), 0);
    const link = obj.attachAuto('count_getppid');
    assert.ok(link.id > 0);
    for (let i = 0; i < 5; i++) assert.ok(process.ppid > 0); // each read is a getppid()
    assert.ok(count() >= 5n, `count ${count()}`);
    link.destroy();
    const afterDetach = count();
    for (let i = 0; i < 5; i++) assert.ok(process.ppid > 0);
    assert.equal(count(), afterDetach);
  });
});

test('close() unloads the programs', () => {
  const obj = open('basic');
  assert.equal(obj.load().errno, 0);
  const ids = obj.programs().map((prog) => prog.id);
  ids.forEach((id) => loadedProgIds.add(id));
  assert.ok(ids.every((id) => bpftoolIds('prog').has(id)));
  obj.close();
  const remaining = bpftoolIds('prog');
  assert.deepEqual(
    ids.filter((id) => remaining.has(id)),
    [],
  );
});

test('the GC finalizers release a dropped object and link exactly once', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const ids = (() => {
    const obj = open('basic');
    assert.equal(obj.load().errno, 0);
    obj.attachToMap('on_msg', 'sock_hash', 'sk_msg_verdict'); // dropped without destroy()
    const progIds = obj.programs().map((prog) => prog.id);
    progIds.forEach((id) => loadedProgIds.add(id));
    return progIds;
  })();
  for (let attempt = 0; attempt < 50 && ids.some((id) => bpftoolIds('prog').has(id)); attempt++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const remaining = bpftoolIds('prog');
  assert.deepEqual(
    ids.filter((id) => remaining.has(id)),
    [],
  );
});

test('sets const volatile values before load, bounds-checked, and refuses after', () => {
  const obj = open('ringbuf');
  try {
    const vars = obj.variables('.rodata');
    assert.deepEqual(
      vars.map((v) => [v.name, v.size]),
      [
        ['target_tgid', 4],
        ['tag', 8],
      ],
    );
    assert.throws(() => obj.setVariable('.rodata', 'tag', u32(1)), RangeError);
    expectNativeError(() => obj.setVariable('.rodata', 'nope', u32(1)), ENOENT, 'setVariable', /no variable 'nope'/);
    expectNativeError(() => obj.variables('records'), EINVAL, 'bpf_map__btf_value_type_id');
    obj.setVariable('.rodata', 'tag', u64(0xfeedn));
    assert.equal(obj.load().errno, 0);
    obj.programs().forEach((p) => loadedProgIds.add(p.id));
    expectNativeError(() => obj.setVariable('.rodata', 'tag', u64(1n)), EBUSY, 'bpf_map__initial_value');
  } finally {
    obj.close();
  }
});

/** Waits until `cond` holds, letting the event loop (and so the ring buffer poll) run. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), what);
}

test('reads a ring buffer on the event loop, keeps reading after the object closes, closes safely', async () => {
  const obj = open('ringbuf');
  obj.setVariable('.rodata', 'target_tgid', u32(process.pid));
  obj.setVariable('.rodata', 'tag', u64(0xfeedn));
  assert.equal(obj.load().errno, 0);
  const progId = obj.programs()[0]!.id;
  loadedProgIds.add(progId);
  const statsFd = addon.enableRunTimeStats();
  const link = obj.attachAuto('on_getppid');
  const got: Buffer[] = [];
  let batches = 0;
  let closeInside = false;
  const poll = addon.ringBufferPoll(
    obj.mapFd('records'),
    (events) => {
      batches++;
      got.push(...events);
      if (closeInside) poll.close(); // from inside its own callback: released after it returns
    },
    4,
  );
  try {
    for (let i = 0; i < 10; i++) assert.ok(process.ppid > 0); // each read is a getppid()
    await until(() => got.length >= 10, `10 records (got ${got.length})`);
    assert.ok(batches >= 3, 'at most maxPerWake (4) records per callback');
    assert.deepEqual(
      got.map((b) => [b.length, b.readBigUInt64LE(0)]),
      Array.from({ length: 10 }, () => [16, 0xfeedn]),
    );
    assert.deepEqual(
      got.map((b) => Number(b.readBigUInt64LE(8))),
      Array.from({ length: 10 }, (_, i) => i),
    );

    // Run-time stats while the stats fd is open; a hash map and a stack-trace map in bulk.
    const stats = addon.programStats(obj.programFd('on_getppid'));
    assert.equal(stats.name, 'on_getppid');
    assert.ok(stats.runCnt > 0 && stats.runTimeNs > 0, JSON.stringify(stats));
    const calls = addon.mapDump(obj.mapFd('calls'), 100);
    assert.deepEqual(
      calls.map((e) => [e.key.readUInt32LE(0), e.value.readBigUInt64LE(0)]),
      [[1, 10n]],
    );
    const stacks = addon.mapDump(obj.mapFd('stacks'), 100);
    assert.ok(stacks.length >= 1 && stacks.every((e) => e.key.length === 4 && e.value.length === 128));
    assert.ok(stacks[0]!.value.readBigUInt64LE(0) > 0n, 'a kernel address');
    assert.equal(addon.mapDump(obj.mapFd('calls'), 0).length, 0, 'maxEntries bounds the dump');

    // The object closes first: the link keeps the program, the poll its own fd and mapping.
    obj.close();
    for (let i = 0; i < 3; i++) assert.ok(process.ppid > 0);
    await until(() => got.length >= 13, `records after the object closed (got ${got.length})`);

    // close() inside the callback: that callback is the last one.
    closeInside = true;
    assert.ok(process.ppid > 0);
    await until(() => got.length >= 14, 'one more record');
    const seen = got.length;
    for (let i = 0; i < 3; i++) assert.ok(process.ppid > 0);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(got.length, seen, 'nothing arrives after close()');
  } finally {
    poll.close();
    poll.close(); // idempotent
    link.destroy();
    obj.close();
    addon.closeFd(statsFd);
  }
  // A tp_btf program is freed after an RCU grace period once its link is gone.
  await until(() => !bpftoolIds('prog').has(progId), `program ${progId} unloaded`);
});

test('leaves none of its programs loaded', () => {
  assert.ok(loadedProgIds.size > 0 && !loadedProgIds.has(0));
  const remaining = bpftoolIds('prog');
  assert.deepEqual(
    [...loadedProgIds].filter((id) => remaining.has(id)),
    [],
  );
});
