// Editing help against the real kernel (6.18), with no SSH and no test node: the built agent
// (dist/agent/agent.js) runs as root in a fresh, empty network namespace and we talk to it over
// its stdio, as agent-rpc.test.ts does. Proves: kernel/helpers gives this kernel's real answers
// (sk_msg may redirect through a sockhash but not read skb bytes, xdp may adjust its head,
// tracepoint programs may read the pid but not redirect messages), says why instead of guessing
// for "tracing" and unknown type names, and keeps each type's answer (a second request probes
// nothing); kernel/kfuncs gives the verifier's verdict per type on every kfunc this kernel's BTF
// tags (skb programs may make an skb dynptr, XDP may not but has its own; tp_btf may take a task
// reference, sk_msg may not), an error for types that load only against a target, and
// "unjudged" for the device-bound XDP metadata kfuncs; kernel/targets finds tracepoints in tracefs and functions in the symbol tables of the
// agent's own node binary; bad params are BadRequests and the agent keeps serving.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import {
  ErrorCode,
  KernelHelpersRequest,
  KernelKfuncsRequest,
  KernelTargetsRequest,
  type KernelHelpersResult,
  type KernelKfuncsResult,
  type LogEntry,
  type ProgTypeHelpers,
  type RequestSpec,
} from '../../protocol/src';
import { readFileSync } from 'node:fs';
import { AgentClient } from '../../core/src/agent/client';
import { parseBtf } from '../../core/src/btf';
import { btfFacts } from '../../core/src/editing/facts';
import { DfsError } from '../../core/src/errors';
import { repoRoot } from '../support/repo';

// enum bpf_func_id
const MAP_LOOKUP_ELEM = 1;
const GET_CURRENT_PID_TGID = 14;
const SKB_LOAD_BYTES = 26;
const XDP_ADJUST_HEAD = 44;
const MSG_REDIRECT_HASH = 71;
/** The last helper id of 6.18 (cgrp_storage_delete). */
const LAST_HELPER_618 = 211;

/** Every program type name libbpf 1.7 knows (libbpf_bpf_prog_type_str), unspec aside. */
const LIBBPF_PROG_TYPES = [
  'socket_filter',
  'kprobe',
  'sched_cls',
  'sched_act',
  'tracepoint',
  'xdp',
  'perf_event',
  'cgroup_skb',
  'cgroup_sock',
  'lwt_in',
  'lwt_out',
  'lwt_xmit',
  'sock_ops',
  'sk_skb',
  'cgroup_device',
  'sk_msg',
  'raw_tracepoint',
  'cgroup_sock_addr',
  'lwt_seg6local',
  'lirc_mode2',
  'sk_reuseport',
  'flow_dissector',
  'cgroup_sysctl',
  'raw_tracepoint_writable',
  'cgroup_sockopt',
  'tracing',
  'struct_ops',
  'ext',
  'lsm',
  'sk_lookup',
  'syscall',
  'netfilter',
];

let agent: ChildProcessWithoutNullStreams;
let client: AgentClient;
const logs: LogEntry[] = [];

before(() => {
  agent = spawn('unshare', ['--net', process.execPath, join(repoRoot(), 'dist/agent/agent.js'), '--stdio'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  client = new AgentClient(agent.stdout, agent.stdin);
  client.onLog((e) => logs.push(e));
});

after(() => {
  client.dispose();
  agent.kill('SIGKILL');
});

async function expectBadRequest<P, R>(spec: RequestSpec<P, R>, params: unknown, field: RegExp): Promise<void> {
  try {
    await client.request(spec, params as P);
  } catch (err) {
    assert.ok(err instanceof DfsError, String(err));
    assert.equal(err.code, ErrorCode.BadRequest, err.message);
    assert.match(err.message, field);
    return;
  }
  assert.fail(`${spec.method} ${JSON.stringify(params).slice(0, 80)} should have been a BadRequest`);
}

function typeOf(r: KernelHelpersResult, progType: string): ProgTypeHelpers {
  const t = r.types.find((x) => x.progType === progType);
  assert.ok(t, `no answer for ${progType}`);
  return t;
}

function allowed(r: KernelHelpersResult, progType: string): number[] {
  const t = typeOf(r, progType);
  assert.equal(t.error, undefined, `${progType}: ${t.error}`);
  assert.ok(t.allowed, `${progType} has no allowed list`);
  return t.allowed;
}

test('kernel/helpers: this kernel’s answers per program type, an error where libbpf cannot ask', async (t) => {
  await client.request(KernelTargetsRequest, {}); // the agent has started: time the probes alone
  const started = performance.now();
  const r = await client.request(KernelHelpersRequest, {
    progTypes: LIBBPF_PROG_TYPES,
    maxHelperId: LAST_HELPER_618,
  });
  const firstMs = performance.now() - started;
  const probeLog = logs.find((e) => /helper probes/.test(e.msg))?.msg ?? 'no log line';
  t.diagnostic(
    `all ${LIBBPF_PROG_TYPES.length} types, ids 1..${LAST_HELPER_618}: ${firstMs.toFixed(0)} ms (${probeLog})`,
  );
  assert.match(r.release, /^\d+\.\d+/);
  assert.deepEqual(
    r.types.map((x) => x.progType),
    LIBBPF_PROG_TYPES,
    'one answer per type, in order',
  );

  const skMsg = allowed(r, 'sk_msg');
  assert.ok(skMsg.includes(MSG_REDIRECT_HASH), 'sk_msg may call bpf_msg_redirect_hash');
  assert.ok(skMsg.includes(MAP_LOOKUP_ELEM), 'sk_msg may call bpf_map_lookup_elem');
  assert.ok(!skMsg.includes(SKB_LOAD_BYTES), 'sk_msg may not call bpf_skb_load_bytes');
  assert.ok(allowed(r, 'xdp').includes(XDP_ADJUST_HEAD), 'xdp may call bpf_xdp_adjust_head');
  const tp = allowed(r, 'tracepoint');
  assert.ok(tp.includes(GET_CURRENT_PID_TGID), 'tracepoint may call bpf_get_current_pid_tgid');
  assert.ok(!tp.includes(MSG_REDIRECT_HASH), 'tracepoint may not call bpf_msg_redirect_hash');
  for (const x of r.types) {
    if (x.allowed) {
      assert.ok(x.allowed.every((id, i) => id >= 1 && id <= LAST_HELPER_618 && (i === 0 || id > x.allowed![i - 1]!)));
      assert.ok(x.allowed.length < LAST_HELPER_618, `${x.progType}: not every helper is allowed`);
    }
  }

  // libbpf refuses to probe helpers for types that load only against an attach target.
  for (const name of ['tracing', 'ext', 'lsm', 'struct_ops']) {
    const x = typeOf(r, name);
    assert.equal(x.allowed, undefined, name);
    assert.match(x.error ?? '', /cannot probe helpers for .* \(EOPNOTSUPP\)/, name);
  }
  // libbpf's probe would call every helper allowed here (the load fails before the verifier
  // looks at the call): the agent must refuse to answer instead.
  assert.match(typeOf(r, 'lirc_mode2').error ?? '', /does not load lirc_mode2 programs/);

  // Kept for the agent's lifetime: the same request again loads nothing and answers the same.
  const logged = logs.length;
  const again = await client.request(KernelHelpersRequest, {
    progTypes: LIBBPF_PROG_TYPES,
    maxHelperId: LAST_HELPER_618,
  });
  assert.deepEqual(again, r);
  assert.ok(!logs.slice(logged).some((e) => /helper probes/.test(e.msg)), 'the second request probed nothing');
  // A smaller maxHelperId is cut from what is kept.
  const fewer = await client.request(KernelHelpersRequest, { progTypes: ['sk_msg'], maxHelperId: 50 });
  assert.deepEqual(
    allowed(fewer, 'sk_msg'),
    skMsg.filter((id) => id <= 50),
  );
});

test('kernel/helpers: a larger maxHelperId probes only the new ids; ids past the last helper are refused', async () => {
  const r = await client.request(KernelHelpersRequest, { progTypes: ['xdp'], maxHelperId: 300 });
  const xdp = allowed(r, 'xdp');
  assert.ok(xdp.includes(XDP_ADJUST_HEAD));
  assert.ok(
    xdp.every((id) => id <= LAST_HELPER_618),
    'no helper past 211 exists on 6.18',
  );
});

test('kernel/helpers: an unknown type name is a per-type error, and the agent keeps serving', async () => {
  const r = await client.request(KernelHelpersRequest, { progTypes: ['no_such_type', 'sk_msg'], maxHelperId: 100 });
  assert.equal(r.types.length, 2);
  assert.match(typeOf(r, 'no_such_type').error ?? '', /libbpf v\d+\.\d+ knows no program type "no_such_type"/);
  assert.ok(allowed(r, 'sk_msg').includes(MSG_REDIRECT_HASH));
});

test('kernel/helpers: bad params are BadRequests', async () => {
  const m = KernelHelpersRequest;
  await expectBadRequest(m, { progTypes: ['sk_msg'], maxHelperId: 0 }, /maxHelperId must be an integer in 1\.\.4096/);
  await expectBadRequest(m, { progTypes: ['sk_msg'], maxHelperId: 4097 }, /maxHelperId/);
  await expectBadRequest(m, { progTypes: ['sk_msg'], maxHelperId: 1.5 }, /maxHelperId/);
  await expectBadRequest(m, { progTypes: ['sk_msg'] }, /maxHelperId is required/);
  await expectBadRequest(m, { progTypes: 'sk_msg', maxHelperId: 10 }, /progTypes must be an array/);
  await expectBadRequest(m, { progTypes: Array(65).fill('xdp'), maxHelperId: 10 }, /at most 64/);
  await expectBadRequest(m, { progTypes: ['xdp', 7], maxHelperId: 10 }, /progTypes\[1\]/);
  await expectBadRequest(m, { progTypes: [''], maxHelperId: 10 }, /progTypes\[0\]/);
  await expectBadRequest(m, { progTypes: [], maxHelperId: 10, all: true }, /unknown field all/);
  // ...and the agent still answers.
  const r = await client.request(m, { progTypes: [], maxHelperId: 10 });
  assert.deepEqual(r.types, []);
  assert.equal(agent.exitCode, null, 'agent still running');
});

/** Every function this kernel's BTF tags bpf_kfunc (what the editor asks about). */
const KFUNCS = btfFacts(parseBtf(readFileSync('/sys/kernel/btf/vmlinux'))).kfuncs.map((k) => k.name);

function kfuncsOf(r: KernelKfuncsResult, progType: string): { allowed: string[]; unjudged: string[] } {
  const t = r.types.find((x) => x.progType === progType);
  assert.ok(t, `no answer for ${progType}`);
  assert.equal(t.error, undefined, `${progType}: ${t.error}`);
  assert.ok(t.allowed, `${progType} has no allowed list`);
  return { allowed: t.allowed, unjudged: t.unjudged ?? [] };
}

test('kernel/kfuncs: the verifier’s verdict per program type on every kfunc of this kernel', async (t) => {
  const started = performance.now();
  const r = await client.request(KernelKfuncsRequest, {
    progTypes: LIBBPF_PROG_TYPES,
    names: [...KFUNCS, 'dfsitkh_no_such_kfunc'],
  });
  const ms = performance.now() - started;
  const probeLog = logs.find((e) => /kfunc probes/.test(e.msg))?.msg ?? 'no log line';
  t.diagnostic(`${KFUNCS.length} kfuncs × ${LIBBPF_PROG_TYPES.length} types: ${ms.toFixed(0)} ms (${probeLog})`);
  assert.ok(KFUNCS.length > 100, `${KFUNCS.length} kfuncs`);
  assert.deepEqual(
    r.types.map((x) => x.progType),
    LIBBPF_PROG_TYPES,
  );
  assert.deepEqual(r.missing, ['dfsitkh_no_such_kfunc'], 'only the made-up name is not in the BTF');

  const tc = kfuncsOf(r, 'sched_cls').allowed;
  const xdp = kfuncsOf(r, 'xdp');
  assert.ok(tc.includes('bpf_dynptr_from_skb') && !tc.includes('bpf_dynptr_from_xdp'));
  assert.ok(xdp.allowed.includes('bpf_dynptr_from_xdp') && !xdp.allowed.includes('bpf_dynptr_from_skb'));
  // The XDP metadata kfuncs want a device-bound program: no verdict, so neither list has them.
  assert.ok(xdp.unjudged.includes('bpf_xdp_metadata_rx_hash'), xdp.unjudged.join(' '));
  assert.ok(kfuncsOf(r, 'tracing').allowed.includes('bpf_task_acquire'), 'tp_btf may take a task reference');
  assert.ok(!kfuncsOf(r, 'sk_msg').allowed.includes('bpf_task_acquire'), 'sk_msg may not');
  for (const x of r.types) {
    if (x.allowed) assert.ok(x.allowed.length < KFUNCS.length, `${x.progType}: not every kfunc is allowed`);
  }
  // ext and struct_ops load only against a target program or struct: no verdict, said why.
  for (const name of ['ext', 'struct_ops', 'lirc_mode2']) {
    assert.match(r.types.find((x) => x.progType === name)?.error ?? '', /gave no verdict on a kfunc call/, name);
  }

  // Kept for the agent's lifetime.
  const logged = logs.length;
  const again = await client.request(KernelKfuncsRequest, { progTypes: LIBBPF_PROG_TYPES, names: KFUNCS });
  assert.deepEqual(again.types, r.types);
  assert.ok(!logs.slice(logged).some((e) => /kfunc probes/.test(e.msg)), 'the second request probed nothing');
});

test('kernel/kfuncs: unknown types are per-type errors, bad params are BadRequests, and the agent keeps serving', async () => {
  const r = await client.request(KernelKfuncsRequest, {
    progTypes: ['no_such_type', 'xdp'],
    names: ['bpf_rcu_read_lock'],
  });
  assert.match(r.types[0]?.error ?? '', /knows no program type "no_such_type"/);
  assert.deepEqual(kfuncsOf(r, 'xdp').allowed, ['bpf_rcu_read_lock']);
  const m = KernelKfuncsRequest;
  await expectBadRequest(m, { progTypes: ['xdp'] }, /names must be an array/);
  await expectBadRequest(m, { progTypes: ['xdp'], names: ['bpf_x; rm -rf'] }, /names\[0\] must be a C identifier/);
  await expectBadRequest(m, { progTypes: ['xdp'], names: ['a'.repeat(129)] }, /names\[0\]/);
  await expectBadRequest(m, { progTypes: ['xdp'], names: [''] }, /names\[0\]/);
  await expectBadRequest(m, { progTypes: ['xdp'], names: Array(4097).fill('x') }, /at most 4096/);
  await expectBadRequest(m, { progTypes: Array(65).fill('xdp'), names: [] }, /at most 64/);
  await expectBadRequest(m, { progTypes: ['xdp'], names: [], ids: [1] }, /unknown field ids/);
  const still = await client.request(m, { progTypes: [], names: [] });
  assert.deepEqual(still.types, []);
  assert.equal(agent.exitCode, null, 'agent still running');
});

/** A local function of `binary`'s .symtab and a data object of its .dynsym, as readelf lists them. */
function symbolsOf(binary: string): { localFunction?: string; dynamicObject?: string } {
  const out = execFileSync('readelf', ['-sW', binary], { encoding: 'utf8', maxBuffer: 256 << 20 });
  let table = '';
  const found: { localFunction?: string; dynamicObject?: string } = {};
  for (const line of out.split('\n')) {
    const header = /^Symbol table '([^']+)'/.exec(line);
    if (header) {
      table = header[1]!;
      continue;
    }
    // Num: Value Size Type Bind Vis Ndx Name
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f[6] === 'UND' || /^0+$/.test(f[1]!)) continue;
    if (table === '.symtab' && f[3] === 'FUNC' && f[4] === 'LOCAL') found.localFunction ??= f[7];
    if (table === '.dynsym' && f[3] === 'OBJECT') found.dynamicObject ??= f[7]!.split('@')[0];
  }
  return found;
}

test('kernel/targets: tracepoints in tracefs, functions in the node binary’s symbol tables', async (t) => {
  const node = process.execPath; // the agent's own runtime (see before())
  const { localFunction, dynamicObject } = symbolsOf(node);
  const cases: [{ binary: string; symbol: string }, { binary: string; symbol: boolean }][] = [
    [
      { binary: node, symbol: 'napi_create_string_utf8' },
      { binary: 'ok', symbol: true },
    ], // exported
    [
      { binary: node, symbol: 'dfsitkh_no_such_symbol' },
      { binary: 'ok', symbol: false },
    ],
    [
      { binary: '/nonexistent/dfsitkh-no-such-binary', symbol: 'main' },
      { binary: 'missing', symbol: false },
    ],
    [
      { binary: join(repoRoot(), 'package.json'), symbol: 'main' },
      { binary: 'not-elf', symbol: false },
    ], // text
    [
      { binary: repoRoot(), symbol: 'main' },
      { binary: 'not-elf', symbol: false },
    ], // a directory
  ];
  // Only in .symtab (a local function), and a data object of .dynsym (not a function).
  if (localFunction)
    cases.push([
      { binary: node, symbol: localFunction },
      { binary: 'ok', symbol: true },
    ]);
  else t.diagnostic(`${node} has no .symtab: the .symtab-only case is not checked`);
  if (dynamicObject)
    cases.push([
      { binary: node, symbol: dynamicObject },
      { binary: 'ok', symbol: false },
    ]);
  const r = await client.request(KernelTargetsRequest, {
    tracepoints: ['syscalls/sys_enter_read', 'syscalls/sys_enter_nope', 'sched/sched_switch'],
    uprobes: cases.map(([target]) => target),
  });
  assert.deepEqual(r.tracepoints, [true, false, true]);
  assert.deepEqual(
    r.uprobes,
    cases.map(([, state]) => state),
    cases.map(([target]) => target.symbol).join(', '),
  );
  assert.deepEqual(await client.request(KernelTargetsRequest, {}), { tracepoints: [], uprobes: [] });
});

test('kernel/targets: bad params are BadRequests', async () => {
  const m = KernelTargetsRequest;
  await expectBadRequest(
    m,
    { uprobes: [{ binary: 'node', symbol: 'main' }] },
    /uprobes\[0\]\.binary must be an absolute path/,
  );
  await expectBadRequest(m, { uprobes: [{ binary: '/bin/true' }] }, /uprobes\[0\]\.symbol/);
  await expectBadRequest(m, { uprobes: [{ binary: '/bin/true', symbol: 'main', pid: 1 }] }, /unknown field pid/);
  await expectBadRequest(m, { uprobes: [{ binary: `/${'a'.repeat(4096)}`, symbol: 'main' }] }, /4096 bytes/);
  await expectBadRequest(m, { tracepoints: ['sys_enter_read'] }, /tracepoints\[0\] must be "category\/name"/);
  await expectBadRequest(m, { tracepoints: ['../../events'] }, /tracepoints\[0\]/);
  await expectBadRequest(m, { tracepoints: ['syscalls/sys enter'] }, /tracepoints\[0\]/);
  await expectBadRequest(m, { tracepoints: Array(257).fill('syscalls/sys_enter_read') }, /at most 256/);
  await expectBadRequest(m, { tracepoints: 'syscalls/sys_enter_read' }, /tracepoints must be an array/);
  assert.deepEqual((await client.request(m, { tracepoints: ['syscalls/sys_enter_read'] })).tracepoints, [true]);
});
