// The profiler ABI (bpf/profile.h ↔ remote-agent/src/profile/abi.ts): compiles the header with
// the host compiler and compares every size, offset and constant the agent's decoders assume,
// and the syscall table (enum prof_sys order, numbers inside prof_sysnr); plus the decoders on
// hand-made bytes (per-CPU sums, slot bounds) and the FUSE opcode names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeEvent,
  decodeHistKey,
  PROF_AF_INET,
  PROF_AF_UNIX,
  PROF_DROPS_SIZE,
  PROF_ENDPOINT_SIZE,
  PROF_EVENT_SIZE,
  PROF_HIST_KEY_SIZE,
  PROF_HIST_SIZE,
  PROF_HIST_SLOTS,
  PROF_KIND,
  PROF_LAYER,
  PROF_PHASE,
  PROF_STACK_KEY_SIZE,
  PROF_STACK_VAL_SIZE,
  PROF_SYSCALLS,
  PROF_SYSNR_MAX,
  SYSCALL_NUMBERS,
  endpointKey,
  slotLeUs,
  sumDrops,
  sumPerCpuHist,
} from '../../remote-agent/src/profile/abi';
import { fuseOpName } from '../../remote-agent/src/profile/opcodes';
import { repoRoot } from '../support/repo';

test('struct layouts and constants in bpf/profile.h equal the agent decoders', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dfs-prof-abi-'));
  try {
    const sys = PROF_SYSCALLS.map((s) => `printf("\\"sys_${s}\\": %d,", PROF_SYS_${s.toUpperCase()});`).join('\n');
    writeFileSync(
      join(dir, 'abi.c'),
      `#include <linux/types.h>
#include <stddef.h>
#include <stdio.h>
#include "profile.h"
#define P(name, expr) printf("\\"%s\\": %ld,", name, (long)(expr))
int main(void) {
  printf("{");
  ${sys}
  P("sys_count", PROF_SYS_COUNT);
  P("hist_key", sizeof(struct prof_hist_key)); P("hist", sizeof(struct prof_hist));
  P("endpoint", sizeof(struct prof_endpoint)); P("stack_key", sizeof(struct prof_stack_key));
  P("stack_val", sizeof(struct prof_stack_val)); P("drops", sizeof(struct prof_drops));
  P("event", sizeof(struct prof_event)); P("slots", PROF_HIST_SLOTS);
  P("k_layer", offsetof(struct prof_hist_key, layer)); P("k_phase", offsetof(struct prof_hist_key, phase));
  P("k_family", offsetof(struct prof_hist_key, family)); P("k_port", offsetof(struct prof_hist_key, port));
  P("k_op", offsetof(struct prof_hist_key, op));
  P("h_sum", offsetof(struct prof_hist, sum_ns)); P("h_slots", offsetof(struct prof_hist, slots));
  P("e_port", offsetof(struct prof_endpoint, port)); P("e_family", offsetof(struct prof_endpoint, family));
  P("s_ustack", offsetof(struct prof_stack_key, ustack)); P("s_kind", offsetof(struct prof_stack_key, kind));
  P("d_hists", offsetof(struct prof_drops, hists));
  P("ev_opcode", offsetof(struct prof_event, opcode)); P("ev_reply", offsetof(struct prof_event, reply_tid));
  P("ev_ustack", offsetof(struct prof_event, ustack));
  P("fuse", PROF_LAYER_FUSE); P("syscall", PROF_LAYER_SYSCALL); P("meta", PROF_LAYER_META);
  P("object", PROF_LAYER_OBJECT); P("queue", PROF_PHASE_QUEUE); P("daemon", PROF_PHASE_DAEMON);
  P("oncpu", PROF_KIND_ONCPU); P("offcpu", PROF_KIND_OFFCPU); P("slow", PROF_KIND_SLOW);
  P("unix", PROF_AF_UNIX); P("inet", PROF_AF_INET);
  printf("\\"end\\": 0}");
  return 0;
}`,
    );
    execFileSync('cc', ['-I', join(repoRoot(), 'bpf'), '-o', join(dir, 'abi'), join(dir, 'abi.c')]);
    const abi = JSON.parse(execFileSync(join(dir, 'abi'), { encoding: 'utf8' })) as Record<string, number>;
    PROF_SYSCALLS.forEach((s, i) => assert.equal(abi[`sys_${s}`], i, s));
    assert.equal(abi.sys_count, PROF_SYSCALLS.length);
    assert.equal(abi.hist_key, PROF_HIST_KEY_SIZE);
    assert.equal(abi.hist, PROF_HIST_SIZE);
    assert.equal(abi.slots, PROF_HIST_SLOTS);
    assert.equal(abi.endpoint, PROF_ENDPOINT_SIZE);
    assert.equal(abi.stack_key, PROF_STACK_KEY_SIZE);
    assert.equal(abi.stack_val, PROF_STACK_VAL_SIZE);
    assert.equal(abi.drops, PROF_DROPS_SIZE);
    assert.equal(abi.event, PROF_EVENT_SIZE);
    assert.deepEqual(
      [abi.k_layer, abi.k_phase, abi.k_family, abi.k_port, abi.k_op, abi.h_sum, abi.h_slots],
      [0, 1, 2, 4, 8, 8, 16],
    );
    assert.deepEqual([abi.e_port, abi.e_family, abi.s_ustack, abi.s_kind, abi.d_hists], [4, 6, 4, 8, 40]);
    assert.deepEqual([abi.ev_opcode, abi.ev_reply, abi.ev_ustack], [32, 40, 48]);
    assert.deepEqual(
      [abi.fuse, abi.syscall, abi.meta, abi.object],
      [PROF_LAYER.fuse, PROF_LAYER.syscall, PROF_LAYER.meta, PROF_LAYER.object],
    );
    assert.deepEqual([abi.queue, abi.daemon], [PROF_PHASE.queue, PROF_PHASE.daemon]);
    assert.deepEqual([abi.oncpu, abi.offcpu, abi.slow], [PROF_KIND.oncpu, PROF_KIND.offcpu, PROF_KIND.slow]);
    assert.deepEqual([abi.unix, abi.inet], [PROF_AF_UNIX, PROF_AF_INET]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('syscall numbers: known names only, inside prof_sysnr, no number twice', () => {
  for (const [arch, table] of Object.entries(SYSCALL_NUMBERS)) {
    const numbers = Object.values(table ?? {});
    assert.equal(new Set(numbers).size, numbers.length, `${arch}: a number twice`);
    for (const [name, nr] of Object.entries(table ?? {})) {
      assert.ok((PROF_SYSCALLS as readonly string[]).includes(name), `${arch}: ${name}`);
      assert.ok(nr >= 0 && nr < PROF_SYSNR_MAX, `${arch}: ${name} = ${nr}`);
    }
  }
});

test('decoders: per-CPU sums, slot bounds, keys, events; opcode names', () => {
  const cpus = 3;
  const value = Buffer.alloc(PROF_HIST_SIZE * cpus);
  for (let c = 0; c < cpus; c++) {
    value.writeBigUInt64LE(BigInt(c + 1), c * PROF_HIST_SIZE); // count
    value.writeBigUInt64LE(1000n, c * PROF_HIST_SIZE + 8); // sum_ns
    value.writeBigUInt64LE(1n, c * PROF_HIST_SIZE + 16 + 8 * 5); // slot 5
  }
  const h = sumPerCpuHist(value);
  assert.equal(h.count, 6);
  assert.equal(h.sumNs, 3000);
  assert.equal(h.slots[5], 3);
  assert.deepEqual([slotLeUs(0), slotLeUs(1), slotLeUs(10)], [1, 2, 1024]);

  const key = Buffer.from([PROF_LAYER.meta, 0, PROF_AF_INET, 0, 0xeb, 0x18, 0, 0, 127, 0, 0, 1]);
  assert.deepEqual(decodeHistKey(key), {
    layer: PROF_LAYER.meta,
    phase: 0,
    family: PROF_AF_INET,
    port: 6379,
    op: 0x0100007f,
  });
  assert.deepEqual([...endpointKey({ ip4: '127.0.0.1', port: 6379 })], [127, 0, 0, 1, 0xeb, 0x18, PROF_AF_INET, 0]);
  assert.deepEqual([...endpointKey({ ip4: null, port: 0 })], [0, 0, 0, 0, 0, 0, PROF_AF_UNIX, 0]);

  const drops = Buffer.alloc(PROF_DROPS_SIZE * 2);
  drops.writeBigUInt64LE(2n, 0);
  drops.writeBigUInt64LE(5n, PROF_DROPS_SIZE + 40);
  assert.deepEqual(sumDrops(drops), { events: 2, stacks: 0, aggs: 0, inflight: 0, calls: 0, hists: 5 });

  const ev = Buffer.alloc(PROF_EVENT_SIZE);
  ev.writeBigUInt64LE(42n, 0);
  ev.writeBigUInt64LE(7_000_000n, 8);
  ev.writeUInt32LE(15, 32);
  ev.writeInt32LE(-14, 48);
  assert.deepEqual(
    { ...decodeEvent(ev), unique: undefined },
    {
      unique: undefined,
      totalNs: 7e6,
      queueNs: 0,
      daemonNs: 0,
      opcode: 15,
      requesterTgid: 0,
      replyTid: 0,
      kstack: 0,
      ustack: -14,
    },
  );
  assert.equal(decodeEvent(Buffer.alloc(10)), null);
  assert.deepEqual(
    [fuseOpName(1), fuseOpName(15), fuseOpName(35), fuseOpName(52), fuseOpName(999)],
    ['LOOKUP', 'READ', 'CREATE', 'STATX', 'OP_999'],
  );
});
