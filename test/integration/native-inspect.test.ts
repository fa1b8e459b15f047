/**
 * Integration test of the addon's inspection calls (remote-agent/native/inspect_ops.cc) against
 * the real kernel; run as root. Proves the contract declared in remote-agent/src/native.ts for
 * the node explorer and the live map inspector: maps read page by page with every entry exactly
 * once and pages bounded (batch lookup where the kind has it, get_next_key otherwise), per-CPU
 * values sized per possible CPU, map/program/link/BTF details by id (null once gone), detaching a
 * link by id, ring buffer positions read without consuming, and socket cookies from a sockhash
 * resolved to their TCP connections through sock_diag. Everything it loads is closed, also on
 * failure, and nothing stays loaded afterwards.
 * Fixtures: the map inspector's test/fixtures/bpf/maps/maps.bpf.c and the profiler's
 * test/fixtures/bpf/native/ringbuf.bpf.c, compiled with clang into a temp dir.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { loopbackConnection, socketFd } from '../support/loopback';
import { constants, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { builtAddon, repoRoot } from '../support/repo';
import type { BpfLink, BpfObject, NativeError } from '../../remote-agent/src/native';

const { EINVAL, EOPNOTSUPP } = constants.errno;
const BPF_NOEXIST = 1;
const MISSING_ID = 0xffffffff;

const root = repoRoot();
const addon = builtAddon();
const buildDir = mkdtempSync(join(tmpdir(), 'dfs-native-inspect-test-'));
const fixtures = { maps: 'test/fixtures/bpf/maps/maps.bpf.c', ringbuf: 'test/fixtures/bpf/native/ringbuf.bpf.c' };
/** Every program id this test loaded; none may be left in the kernel at the end. */
const loadedProgIds = new Set<number>();

const clangFlags = '-O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu'.split(' ');

/** Open and load a fixture (`beforeLoad` sets it up), run `body`, and always close the object. */
async function withLoaded<T>(
  name: keyof typeof fixtures,
  body: (obj: BpfObject) => T | Promise<T>,
  beforeLoad?: (obj: BpfObject) => void,
): Promise<T> {
  const obj = addon.openObject(readFileSync(join(buildDir, `${name}.bpf.o`)), {
    name: `${name}.bpf.o`,
    logLevel: 1,
    logSize: 1 << 20,
  });
  try {
    beforeLoad?.(obj);
    const result = obj.load();
    assert.equal(result.errno, 0, result.log);
    for (const prog of obj.programs()) loadedProgIds.add(prog.id);
    return await body(obj);
  } finally {
    obj.close();
  }
}

function expectNativeError(fn: () => unknown, errno: number, op: string, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof Error);
    const native = error as NativeError;
    assert.equal(native.errno, errno, native.message);
    assert.equal(native.op, op);
    if (message) assert.match(native.message, message);
    return true;
  });
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

function progId(obj: BpfObject, name: string): number {
  const id = obj.programs().find((prog) => prog.name === name)?.id;
  assert.ok(id, `program ${name} is loaded`);
  return id;
}

function mapId(obj: BpfObject, name: string): number {
  const id = obj.maps().find((map) => map.name === name)?.id;
  assert.ok(id, `map ${name} is loaded`);
  return id;
}

/** Waits until `cond` holds (kernel objects are freed after an RCU grace period). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), what);
}

before(() => {
  assert.equal(process.getuid?.(), 0, 'this integration test needs root');
  for (const [name, source] of Object.entries(fixtures)) {
    execFileSync('clang', [...clangFlags, '-c', join(root, source), '-o', join(buildDir, `${name}.bpf.o`)]);
  }
});

after(() => rmSync(buildDir, { recursive: true, force: true }));

test('pages through 100,000 hash entries: every key exactly once, every page bounded', async () => {
  await withLoaded('maps', (obj) => {
    const bench = obj.mapFd('fx_bench');
    const total = 100_000;
    const value = Buffer.alloc(16); // struct fx_counter {packets, bytes}
    for (let i = 0; i < total; i++) {
      value.writeBigUInt64LE(BigInt(i) * 3n, 0);
      value.writeBigUInt64LE(BigInt(i) * 5n, 8);
      addon.mapUpdate(bench, u64(BigInt(i)), value, BPF_NOEXIST);
    }
    for (const maxEntries of [1000, 4096, 65_536]) {
      const seen = new Uint8Array(total);
      let cursor: Buffer | null = null;
      let pages = 0;
      do {
        const page = addon.mapReadPage(bench, cursor, maxEntries);
        assert.ok(page.batched, 'a hash map is read with BPF_MAP_LOOKUP_BATCH');
        assert.ok(page.count <= maxEntries, `page of ${page.count} > ${maxEntries}`);
        assert.equal(page.keys.length, page.count * 8);
        assert.equal(page.values.length, page.count * 16);
        for (let i = 0; i < page.count; i++) {
          const key = Number(page.keys.readBigUInt64LE(i * 8));
          assert.ok(key < total && seen[key] === 0, `key ${key} seen twice or unknown`);
          seen[key] = 1;
          assert.equal(page.values.readBigUInt64LE(i * 16), BigInt(key) * 3n);
          assert.equal(page.values.readBigUInt64LE(i * 16 + 8), BigInt(key) * 5n);
        }
        cursor = page.cursor;
        pages++;
        assert.ok(pages <= Math.ceil(total / maxEntries) + 1, 'no more pages than the entries need');
      } while (cursor);
      assert.equal(seen.indexOf(0), -1, `every key came back (max ${maxEntries})`);
    }
  });
});

test('reads a sparse 65,536-slot LRU hash in one batched page', async () => {
  await withLoaded('maps', (obj) => {
    const lru = obj.mapFd('fx_lru');
    const keys = Array.from({ length: 10 }, (_, i) => (BigInt(i) << 40n) | 7n);
    for (const key of keys) addon.mapUpdate(lru, u64(key), Buffer.alloc(16, 1), BPF_NOEXIST);
    // One BPF_MAP_LOOKUP_BATCH: the kernel walks the empty buckets, not 65,536 syscalls.
    const page = addon.mapReadPage(lru, null, 1000);
    assert.deepEqual(
      { count: page.count, cursor: page.cursor, batched: page.batched },
      {
        count: 10,
        cursor: null,
        batched: true,
      },
    );
    const got = Array.from({ length: page.count }, (_, i) => page.keys.readBigUInt64LE(i * 8));
    assert.deepEqual(
      got.sort((a, b) => (a < b ? -1 : 1)),
      keys,
    );
    assert.deepEqual(page.values, Buffer.alloc(10 * 16, 1));

    // Small pages still see every entry once and end with a null cursor.
    const paged: bigint[] = [];
    let cursor: Buffer | null = null;
    do {
      const small = addon.mapReadPage(lru, cursor, 3);
      for (let i = 0; i < small.count; i++) paged.push(small.keys.readBigUInt64LE(i * 8));
      cursor = small.cursor;
    } while (cursor);
    assert.equal(new Set(paged).size, 10);
    assert.equal(paged.length, 10);
  });
});

test("per-CPU values hold every possible CPU's slot", async () => {
  await withLoaded('maps', (obj) => {
    const cpus = addon.numPossibleCpus();
    const hash = obj.mapFd('fx_percpu_hash'); // value: struct fx_counter, 16 bytes per CPU
    const perCpu = (key: number): Buffer =>
      Buffer.concat(Array.from({ length: cpus }, (_, cpu) => Buffer.concat([u64(BigInt(key * 100 + cpu)), u64(7n)])));
    for (const key of [1, 2, 3]) addon.mapUpdate(hash, u32(key), perCpu(key), BPF_NOEXIST);
    const page = addon.mapReadPage(hash, null, 16);
    assert.equal(page.batched, true);
    assert.equal(page.count, 3);
    assert.equal(page.values.length, 3 * 16 * cpus);
    for (let i = 0; i < 3; i++) {
      const key = page.keys.readUInt32LE(i * 4);
      assert.deepEqual(page.values.subarray(i * 16 * cpus, (i + 1) * 16 * cpus), perCpu(key));
    }

    const array = obj.mapFd('fx_percpu_array'); // 8 slots of one u64 per CPU, all present
    addon.mapUpdate(array, u32(5), Buffer.concat(Array.from({ length: cpus }, (_, cpu) => u64(BigInt(cpu + 1)))), 0);
    const slots = addon.mapReadPage(array, null, 100);
    assert.deepEqual(
      { count: slots.count, cursor: slots.cursor, batched: slots.batched },
      {
        count: 8,
        cursor: null,
        batched: true,
      },
    );
    assert.equal(slots.values.length, 8 * 8 * cpus);
    const five = slots.values.subarray(5 * 8 * cpus, 6 * 8 * cpus);
    assert.deepEqual(
      Array.from({ length: cpus }, (_, cpu) => five.readBigUInt64LE(cpu * 8)),
      Array.from({ length: cpus }, (_, cpu) => BigInt(cpu + 1)),
    );
  });
});

test('refuses maps without listable entries, bad page sizes and foreign cursors', async () => {
  await withLoaded('maps', (obj) => {
    const hash = obj.mapFd('fx_hash');
    expectNativeError(() => addon.mapReadPage(obj.mapFd('fx_ringbuf'), null, 10), EOPNOTSUPP, 'mapReadPage', /no keys/);
    assert.throws(() => addon.mapReadPage(hash, null, 0), RangeError);
    assert.throws(() => addon.mapReadPage(hash, null, 65_537), RangeError);
    assert.throws(() => addon.mapReadPage(hash, Buffer.from('x'), 10), RangeError);
    assert.throws(() => addon.mapReadPage(hash, 'cursor' as unknown as Buffer, 10), TypeError);
    expectNativeError(() => addon.mapReadPage(obj.programFd('fx_msg'), null, 10), EINVAL, 'bpf_obj_get_info_by_fd');
    // An array page that fills maxEntries exactly hands out the kernel's token; the next is the end.
    const first = addon.mapReadPage(obj.mapFd('fx_array'), null, 16);
    const token = first.cursor;
    assert.equal(first.count, 16);
    assert.ok(token);
    assert.throws(() => addon.mapReadPage(obj.mapFd('fx_hist'), token.subarray(1), 10), RangeError, 'mangled');
    assert.throws(() => addon.mapReadPage(hash, token, 10), RangeError, "another map's (4-byte keys, not 8)");
    const last = addon.mapReadPage(obj.mapFd('fx_array'), token, 16);
    assert.deepEqual({ count: last.count, cursor: last.cursor }, { count: 0, cursor: null });
  });
});

test('describes maps by fd and by id, and a vanished map id as null', async () => {
  const ids = await withLoaded('maps', (obj) => {
    const lru = addon.mapInfoByFd(obj.mapFd('fx_lru'));
    assert.equal(lru.id, mapId(obj, 'fx_lru'));
    assert.deepEqual(addon.mapInfoById(lru.id), lru);
    const { btfId, btfKeyTypeId, btfValueTypeId, ...rest } = lru;
    assert.ok(btfId > 0 && btfKeyTypeId > 0 && btfValueTypeId > 0, 'fx_lru has BTF key and value types');
    assert.deepEqual(rest, {
      id: lru.id,
      type: 'lru_hash',
      name: 'fx_lru',
      keySize: 8,
      valueSize: 16,
      maxEntries: 65_536,
      mapFlags: 0,
      ifindex: 0,
      btfVmlinuxValueTypeId: 0,
      btfVmlinuxId: 0,
      mapExtra: 0n,
      frozen: false,
    });
    const kinds = ['fx_percpu_array', 'fx_sockhash', 'fx_ringbuf'].map((name) => {
      const { type, keySize, valueSize, maxEntries } = addon.mapInfoByFd(obj.mapFd(name));
      return { type, keySize, valueSize, maxEntries };
    });
    assert.deepEqual(kinds, [
      { type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 8 },
      { type: 'sockhash', keySize: 8, valueSize: 8, maxEntries: 64 },
      { type: 'ringbuf', keySize: 0, valueSize: 0, maxEntries: 65_536 },
    ]);
    expectNativeError(() => addon.mapInfoByFd(obj.programFd('fx_msg')), EINVAL, 'bpf_obj_get_info_by_fd');
    return obj.maps().map((map) => map.id);
  });
  // Its programs held the maps; they go after an RCU grace period.
  await until(() => ids.every((id) => addon.mapInfoById(id) === null), "the closed object's maps are gone");
  assert.equal(addon.mapInfoById(MISSING_ID), null);
  assert.throws(() => addon.mapInfoById(-1), RangeError);
});

test("returns a BTF object's raw bytes by id: the program's own and the kernel's", async () => {
  await withLoaded('maps', (obj) => {
    const own = addon.btfInfoById(addon.mapInfoByFd(obj.mapFd('fx_hash')).btfId);
    assert.ok(own);
    assert.deepEqual({ name: own.name, kernel: own.kernel }, { name: '', kernel: false });
    assert.equal(own.data.readUInt16LE(0), 0xeb9f, 'BTF magic');
    assert.equal(own.data.length, own.data.readUInt32LE(4) + own.data.readUInt32LE(12) + own.data.readUInt32LE(20));

    const vmlinuxId = addon.progInfoById(progId(obj, 'fx_touch'))?.attachBtfObjId;
    assert.ok(vmlinuxId);
    const vmlinux = addon.btfInfoById(vmlinuxId);
    assert.ok(vmlinux);
    assert.deepEqual(
      { id: vmlinux.id, name: vmlinux.name, kernel: vmlinux.kernel },
      {
        id: vmlinuxId,
        name: 'vmlinux',
        kernel: true,
      },
    );
    assert.ok(vmlinux.data.equals(readFileSync('/sys/kernel/btf/vmlinux')), 'the same bytes as sysfs');
  });
  assert.equal(addon.btfInfoById(MISSING_ID), null);
});

test('describes a program by id as bpftool does', async () => {
  const id = await withLoaded('maps', (obj) => {
    const id = progId(obj, 'fx_touch');
    const prog = addon.progInfoById(id);
    assert.ok(prog);
    const shown = JSON.parse(
      execFileSync('bpftool', ['prog', 'show', 'id', String(id), '-j'], { encoding: 'utf8' }),
    ) as {
      tag: string;
      bytes_xlated: number;
      bytes_jited: number;
      btf_id: number;
      uid: number;
      map_ids: number[];
    };
    const uses = [
      'fx_hash',
      'fx_array',
      'fx_percpu_hash',
      'fx_percpu_array',
      'fx_lru',
      'fx_hist',
      'fx_bench',
      'fx_ringbuf',
    ];
    assert.deepEqual(
      {
        id: prog.id,
        type: prog.type,
        name: prog.name,
        tag: prog.tag,
        gpl: prog.gplCompatible,
        uid: prog.createdByUid,
        btfId: prog.btfId,
        xlated: prog.xlatedProgLen,
        jited: prog.jitedProgLen,
        mapIds: [...prog.mapIds].sort(),
      },
      {
        id,
        type: 'tracing',
        name: 'fx_touch',
        tag: shown.tag,
        gpl: true,
        uid: shown.uid,
        btfId: shown.btf_id,
        xlated: shown.bytes_xlated,
        jited: shown.bytes_jited,
        mapIds: uses.map((name) => mapId(obj, name)).sort(),
      },
    );
    assert.deepEqual([...shown.map_ids].sort(), [...prog.mapIds].sort());
    assert.ok(prog.verifiedInsns > 0 && prog.attachBtfObjId > 0 && prog.attachBtfId > 0);
    const uptimeNs = BigInt(Math.ceil(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]))) * 1_000_000_000n;
    assert.ok(prog.loadTime > 0n && prog.loadTime <= uptimeNs, `loadTime ${prog.loadTime}`);
    assert.equal(addon.progInfoById(progId(obj, 'fx_msg'))?.type, 'sk_msg');
    return id;
  });
  await until(() => addon.progInfoById(id) === null, `program ${id} is gone`);
});

test('lists, describes and detaches links by id', async () => {
  await withLoaded('maps', async (obj) => {
    const links: BpfLink[] = [];
    try {
      // A tp_btf program (harmless: fx_array always has slot 0, so it only looks maps up).
      const touch = obj.attachAuto('fx_touch');
      links.push(touch);
      assert.ok(touch.id > 0 && addon.allLinkIds().includes(touch.id));
      assert.deepEqual(addon.linkInfoById(touch.id), {
        id: touch.id,
        type: 'raw_tracepoint', // libbpf attaches tp_btf through BPF_RAW_TRACEPOINT_OPEN
        progId: progId(obj, 'fx_touch'),
        tpName: 'sched_switch',
        cookie: 0n,
      });
      expectNativeError(() => addon.linkDetachById(touch.id), EOPNOTSUPP, 'bpf_link_detach');
      touch.destroy();
      await until(() => addon.linkInfoById(touch.id) === null, 'the destroyed link is gone');
      assert.equal(addon.allLinkIds().includes(touch.id), false);
      assert.equal(addon.linkDetachById(touch.id), false);

      if (!kernelAtLeast(6, 10)) return; // sk_msg attaches to a sockhash as a link since 6.10
      // No socket enters fx_sockhash here: sockets would hold the program (ARCHITECTURE.md).
      const msg = obj.attachToMap('fx_msg', 'fx_sockhash', 'sk_msg_verdict');
      links.push(msg);
      const shown = {
        id: msg.id,
        type: 'sockmap',
        progId: progId(obj, 'fx_msg'),
        mapId: mapId(obj, 'fx_sockhash'),
        attachType: 'sk_msg_verdict',
      };
      assert.deepEqual(addon.linkInfoById(msg.id), shown);
      assert.equal(addon.linkDetachById(msg.id), true);
      // Detached but alive while its owner holds the fd: the map is gone from it.
      assert.deepEqual(addon.linkInfoById(msg.id), { ...shown, mapId: 0 });
      msg.destroy();
      await until(() => addon.linkInfoById(msg.id) === null, 'the detached link is gone after destroy()');
    } finally {
      for (const link of links) link.destroy();
    }
  });
  assert.equal(addon.linkInfoById(MISSING_ID), null);
  assert.equal(addon.linkDetachById(MISSING_ID), false);
});

test('reads ring buffer positions without consuming, and refuses other maps', async () => {
  await withLoaded('maps', (obj) => {
    assert.deepEqual(addon.ringBufferPositions(obj.mapFd('fx_ringbuf')), { size: 65_536, consumer: 0n, producer: 0n });
    expectNativeError(() => addon.ringBufferPositions(obj.mapFd('fx_hash')), EINVAL, 'ringBufferPositions', /not a/);
  });
  // A producer: three getppid() records of 16 bytes, each after an 8-byte header.
  await withLoaded(
    'ringbuf',
    (obj) => {
      const link = obj.attachAuto('on_getppid');
      try {
        for (let i = 0; i < 3; i++) assert.ok(process.ppid > 0); // each read is a getppid()
      } finally {
        link.destroy();
      }
      const records = obj.mapFd('records');
      assert.deepEqual(addon.ringBufferPositions(records), { size: 4096, consumer: 0n, producer: 72n });
      assert.deepEqual(
        addon.ringBufferPositions(records),
        { size: 4096, consumer: 0n, producer: 72n },
        'nothing consumed',
      );
      // The same object's other kinds: a frozen .rodata, a stack-trace map without batch lookup.
      assert.equal(addon.mapInfoByFd(obj.mapFd('.rodata')).frozen, true);
      const stacks = addon.mapReadPage(obj.mapFd('stacks'), null, 64);
      assert.deepEqual({ batched: stacks.batched, cursor: stacks.cursor }, { batched: false, cursor: null });
      assert.ok(stacks.count >= 1 && stacks.values.length === stacks.count * 128);
    },
    (obj) => obj.setVariable('.rodata', 'target_tgid', u32(process.pid)),
  );
});

/** A TCP connection on 127.0.0.1: both ends, and the server to close. */
test('resolves the cookies in a sockhash to their TCP connections', async () => {
  const { server, client, peer } = await loopbackConnection();
  try {
    await withLoaded('maps', (obj) => {
      const sockhash = obj.mapFd('fx_sockhash');
      const ends = [client, peer].map((socket, i) => {
        const key = Buffer.alloc(8); // struct fx_endpoint
        key.writeUInt32LE(i + 1);
        // A sockhash takes a socket fd as its value from user space and answers its cookie.
        addon.mapUpdate(sockhash, key, u64(BigInt(socketFd(socket))), BPF_NOEXIST);
        const inode = Number(/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${socketFd(socket)}`))?.[1]);
        return { key, socket, inode };
      });
      try {
        const page = addon.mapReadPage(sockhash, null, 64);
        assert.deepEqual(
          { count: page.count, cursor: page.cursor, batched: page.batched },
          {
            count: 2,
            cursor: null,
            batched: false, // a sockhash has no batch lookup: get_next_key + lookup
          },
        );
        const cookieOf = new Map<number, bigint>();
        for (let i = 0; i < 2; i++) cookieOf.set(page.keys.readUInt32LE(i * 8), page.values.readBigUInt64LE(i * 8));
        for (const [i, end] of ends.entries()) {
          assert.deepEqual(addon.mapLookup(sockhash, end.key, 8), u64(cookieOf.get(i + 1) ?? 0n));
        }
        const cookies = ends.map((_, i) => cookieOf.get(i + 1) ?? 0n);
        const found = addon.socketsByCookie([...cookies, 0xffff_ffff_ffff_fff0n]);
        assert.deepEqual(
          found.sort((a, b) => (a.cookie < b.cookie ? -1 : 1)),
          ends
            .map(({ socket, inode }, i) => ({
              cookie: cookies[i],
              family: 'inet',
              state: 'established',
              src: '127.0.0.1',
              sport: socket.localPort,
              dst: '127.0.0.1',
              dport: socket.remotePort,
              inode,
              uid: 0,
            }))
            .sort((a, b) => ((a.cookie ?? 0n) < (b.cookie ?? 0n) ? -1 : 1)),
        );
      } finally {
        for (const end of ends) addon.mapDelete(sockhash, end.key);
      }
    });
  } finally {
    client.destroy();
    peer.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
  assert.deepEqual(addon.socketsByCookie([]), []);
  assert.throws(() => addon.socketsByCookie([1 as unknown as bigint]), TypeError);
  assert.throws(() => addon.socketsByCookie([-1n]), TypeError);
  assert.throws(() => addon.socketsByCookie('1' as unknown as bigint[]), TypeError);
});

test('leaves none of its programs loaded', async () => {
  assert.ok(loadedProgIds.size > 0 && !loadedProgIds.has(0));
  await until(() => [...loadedProgIds].every((id) => addon.progInfoById(id) === null), 'no program of ours is loaded');
});
