// core/src/install/probe.ts: the checks `node install` makes before writing anything. The
// probe script runs here for real (it only reads, as the SSH user would on a node), and this
// machine — kernel 6.18 with BTF, cgroup v2, sockmap — passes; then single facts are changed
// the way a lesser node differs, and each one becomes its own plain reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { assessNode, KERNEL_CONFIG, parseFacts, PROBE_SCRIPT, type NodeFacts } from '../../core/src/install/probe';

const MiB = 1 << 20;
const here: NodeFacts = parseFacts(execFileSync('sh', ['-c', PROBE_SCRIPT], { encoding: 'utf8' }));

test('this machine passes every check the install makes', () => {
  assert.equal(here.machine, 'x86_64');
  assert.equal(here.btf, 'yes');
  assert.equal(here.cgroup2, 'yes');
  const a = assessNode(here, 10 * MiB);
  assert.deepEqual(a.problems, []);
  if (here.config === 'yes') for (const k of Object.keys(KERNEL_CONFIG)) assert.equal(here[k], 'y', k);
});

test('each missing part is its own plain reason', () => {
  const cases: [Partial<NodeFacts>, RegExp][] = [
    [{ machine: 'aarch64' }, /the node is aarch64; this client ships the agent for x86_64 only/],
    [{ btf: 'no' }, /the kernel lacks kernel BTF/],
    [{ cgroup2: 'no' }, /cgroup v2/],
    [{ bpf_syscall: 'no' }, /bpf\(\) system call/],
    [{ config: 'yes', CONFIG_BPF_STREAM_PARSER: '' }, /without CONFIG_BPF_STREAM_PARSER \(sockmap\/sockhash/],
    [{ config: 'yes', CONFIG_NET_SOCK_MSG: 'n' }, /CONFIG_NET_SOCK_MSG.*: CONFIG_NET_SOCK_MSG=n/],
    [{ glibc: 'glibc 2.17' }, /glibc 2\.17 is too old/],
    [{ tool_visudo: '' }, /`visudo` is not installed/],
    [
      { free_kb: String(16 * 1024), free_dir: '/usr/local/lib' },
      /not enough space for the agent: 20 MiB needed in \/usr\/local\/lib, 16 MiB free/,
    ],
  ];
  for (const [change, want] of cases) {
    const a = assessNode({ ...here, ...change } as NodeFacts, 10 * MiB);
    assert.equal(a.problems.length, 1, `${JSON.stringify(change)}: ${a.problems.join(' | ')}`);
    assert.match(a.problems[0] ?? '', want);
  }
});

test('an unreadable kernel config is a note, and the installed record is read back', () => {
  const a = assessNode(
    { ...here, config: 'no', installed: '{"version":"0.1.0","build":"abc","runtime":"24.21.0"}' },
    MiB,
  );
  assert.deepEqual(a.problems, []);
  assert.match(a.notes.join(), /kernel config is not readable/);
  assert.deepEqual(a.installed, { version: '0.1.0', build: 'abc', runtime: '24.21.0' });
  assert.match(assessNode({ ...here, installed: '{oops' }, MiB).notes.join(), /not JSON/);
});
