/**
 * `dfs-ebpf node install|uninstall` on a bare node (core/src/testnode/bare.ts: a fresh Debian
 * 12 server with no Node.js, libbpf or file of ours), through the built CLI as a user runs it:
 * the node named by an ~/.ssh/config Host block, the host key checked, sudo's password given on
 * stdin (--sudo-password-stdin). Proves: the install ships everything (initialize reports the
 * shipped Node runtime and libbpf); the bypass attaches and data crosses JuiceFS byte-identical
 * while it redirects; a program verifies in the node's kernel; a second install changes
 * nothing; uninstall leaves no file, sudo rule, process or pin of ours. And each way it can go
 * wrong is refused with its reason and leaves the node as it was: a kernel without BTF, another
 * architecture, too little disk, a full upload disk, a wrong sudo password, a wrong host key,
 * an unreachable host.
 */

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { REMOTE } from '../../core/src/install/layout';
import { type BareNode, bareNodeDown, bareNodeUp, runInBareNode } from '../../core/src/testnode/bare';
import { runCli, type CliResult } from '../support/cli';
import { repoRoot } from '../support/repo';

const NAME = 'dfsitinst';
const home = mkdtempSync(join(tmpdir(), 'dfs-install-home-'));
let node: BareNode;

/** The CLI as a user on this machine runs it, with ~/.ssh/config naming the node. */
const env: NodeJS.ProcessEnv = {
  ...process.env,
  HOME: home,
  // The runtime download and the update key stay where they are for this user.
  XDG_CACHE_HOME: process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
  XDG_STATE_HOME: process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'),
};
const cli = (args: string[], input?: string): Promise<CliResult> =>
  runCli([...args], { env, cwd: home, ...(input !== undefined ? { input } : {}) });
const install = (): Promise<CliResult> =>
  cli(['node', 'install', NAME, '--sudo-password-stdin', '--json'], `${node.password}\n`);
const json = <T>(r: CliResult): T => {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};

/** Everything under `dir` (host path), with sizes and mtimes: the node's files of ours. */
function listing(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      const st = statSync(p);
      out.push(`${p.slice(dir.length)} ${st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

const inUpper = (p: string): string => join(node.upperDir, p);

async function inNode(argv: string[], input?: string): Promise<string> {
  const r = await runInBareNode(NAME, argv, { timeoutMs: 120_000, ...(input !== undefined ? { input } : {}) });
  assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Nothing of ours: no install root, no sudo rule, no upload left, no pin, no agent process. */
async function assertNothingOfOurs(why: string): Promise<void> {
  assert.deepEqual(listing(inUpper(REMOTE.root)), [], `${why}: no ${REMOTE.root}`);
  const rules = (await inNode(['sh', '-c', 'ls /etc/sudoers.d'])).split('\n').filter((f) => f.startsWith('dfs-ebpf'));
  assert.deepEqual(rules, [], `${why}: no sudo rule of ours`);
  assert.equal(
    (await inNode(['sh', '-c', 'ls -d /tmp/dfs-ebpf-* 2>/dev/null || true'])).trim(),
    '',
    `${why}: no upload left`,
  );
  assert.equal(
    (await inNode(['sh', '-c', 'ls /sys/fs/bpf/dfs-ebpf 2>/dev/null || true'])).trim(),
    '',
    `${why}: no pins`,
  );
  const ours = await inNode([
    'sh',
    '-c',
    `for d in /proc/[0-9]*; do [ "$(readlink $d/exe 2>/dev/null)" = ${REMOTE.node} ] && echo $d; done; true`,
  ]);
  assert.equal(ours.trim(), '', `${why}: no agent process`);
}

before(async () => {
  node = await bareNodeUp({ name: NAME });
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  writeFileSync(join(home, '.ssh', 'config'), node.sshConfig);
});

after(async () => {
  await bareNodeDown({ name: NAME });
  rmSync(home, { recursive: true, force: true });
});

test(
  'install on a bare node, attach the bypass, move data, verify, install again, uninstall',
  { timeout: 900_000 },
  async () => {
    await assertNothingOfOurs('before');
    const first = json<{
      result: string;
      previous: unknown;
      agent: { runtime: { node: string; path: string }; libbpf: string; missing_features: string[] };
      payload: { bytes: number; unpacked_bytes: number };
    }>(await install());
    assert.equal(first.result, 'installed');
    assert.equal(first.previous, null);
    assert.deepEqual(
      first.agent.runtime,
      { node: 'v24.21.0', path: REMOTE.node },
      'the shipped runtime runs the agent',
    );
    assert.equal(first.agent.libbpf, 'v1.7');
    assert.ok(!first.agent.missing_features.includes('sockhash'), first.agent.missing_features.join());
    assert.ok(first.payload.bytes > 10 << 20 && first.payload.unpacked_bytes > first.payload.bytes);
    const rule = readFileSync(inUpper(`/etc/sudoers.d/dfs-ebpf-${node.user}`), 'utf8');
    assert.equal(
      rule,
      `${node.user} ALL=(root) NOPASSWD: ${REMOTE.wrapper} --stdio\n`,
      'the rule names exactly the wrapper',
    );
    const installed = listing(inUpper(REMOTE.root));

    // The node works as any node: status, the bypass on its JuiceFS, verification.
    const st = json<{ agent: { version: string }; juicefs: { mountpoint: string }[] }>(
      await cli(['status', '--node', NAME, '--json']),
    );
    assert.deepEqual(
      st.juicefs.map((m) => m.mountpoint),
      [node.mountpoint],
    );
    const attached = json<{ bypass: { attached: boolean } }>(await cli(['attach', 'bypass', '--node', NAME, '--json']));
    assert.equal(attached.bypass.attached, true);
    try {
      const sums = await inNode([
        'sh',
        '-c',
        `set -e; head -c 24M /dev/urandom > /tmp/src; cp /tmp/src ${node.mountpoint}/it.bin; sync;
       echo 3 > /proc/sys/vm/drop_caches; sha256sum < /tmp/src; sha256sum < ${node.mountpoint}/it.bin; rm ${node.mountpoint}/it.bin /tmp/src`,
      ]);
      const [a, b] = sums.trim().split('\n');
      assert.equal(a, b, 'the file reads back byte-identical through JuiceFS');
      const on = json<{ bypass: { redirected_msgs: number; redirected_bytes: number } }>(
        await cli(['status', '--node', NAME, '--json']),
      );
      assert.ok(on.bypass.redirected_bytes > 24 << 20, `redirected ${on.bypass.redirected_bytes} bytes`);
    } finally {
      json(await cli(['detach', 'bypass', '--node', NAME, '--json']));
    }
    const verified = json<{ ok: boolean; programs: { verdict: string }[] }>(
      await cli(['verify', join(repoRoot(), 'bpf/bypass.bpf.c'), '--node', NAME, '--json']),
    );
    assert.equal(verified.ok, true);
    assert.ok(verified.programs.every((p) => p.verdict === 'accepted'));

    const twice = await cli(
      ['node', 'install', NAME, '--sudo-password-stdin', '--json', '--verbose'],
      `${node.password}\n`,
    );
    const second = json<{ result: string; previous: { version: string } }>(twice);
    assert.equal(second.result, 'unchanged');
    assert.doesNotMatch(twice.stderr, /uploading the agent/, 'an unchanged node is not sent the payload');
    assert.deepEqual(listing(inUpper(REMOTE.root)), installed, 'a second install writes nothing');

    // An older install (its record says so): the install upgrades it in place.
    const record = JSON.parse(await inNode(['cat', REMOTE.record])) as { version: string };
    await inNode(['sh', '-c', `cat > ${REMOTE.record}`], `${JSON.stringify({ ...record, version: '0.0.9' })}\n`);
    const upgraded = json<{ result: string; previous: { version: string }; installed: { version: string } }>(
      await install(),
    );
    assert.equal(upgraded.result, 'installed');
    assert.equal(upgraded.previous.version, '0.0.9');
    assert.equal(upgraded.installed.version, record.version);
    assert.equal((JSON.parse(await inNode(['cat', REMOTE.record])) as { version: string }).version, record.version);
    const staging = await inNode(['sh', '-c', `ls -a ${REMOTE.root} | grep '^\\.install' || true`]);
    assert.equal(staging.trim(), '', 'no staging directory left behind');

    // A pinned bypass (the CLI's default) and a serving agent are both of ours: uninstall ends them.
    json(await cli(['attach', 'bypass', '--node', NAME, '--json']));
    const removed = json<{ result: string }>(
      await cli(['node', 'uninstall', NAME, '--sudo-password-stdin', '--json'], `${node.password}\n`),
    );
    assert.equal(removed.result, 'removed');
    await assertNothingOfOurs('after uninstall');
    const again = json<{ result: string }>(
      await cli(['node', 'uninstall', NAME, '--sudo-password-stdin', '--json'], `${node.password}\n`),
    );
    assert.equal(again.result, 'absent');
  },
);

test('refusals: each with its reason, the node left as it was', { timeout: 600_000 }, async () => {
  const refused = async (why: string, want: RegExp, input = `${node.password}\n`): Promise<void> => {
    const r = await cli(['node', 'install', NAME, '--sudo-password-stdin'], input);
    assert.notEqual(r.code, 0, `${why}: refused`);
    assert.match(r.stderr, want, why);
    await assertNothingOfOurs(why);
  };
  await bareNodeUp({ name: NAME, maskBtf: true });
  await refused('no BTF', /nothing was changed: the kernel lacks kernel BTF .*\[KernelFeatureMissing\]/);
  await bareNodeUp({ name: NAME, arch: 'aarch64' });
  await refused('another architecture', /the node is aarch64; this client ships the agent for x86_64 only/);
  await bareNodeUp({ name: NAME, installLimitMb: 64 });
  await refused('too little disk', /not enough space for the agent: \d+ MiB needed in \/usr\/local\/lib, \d+ MiB free/);
  await bareNodeUp({ name: NAME });

  // A disk that fills during the upload: a small /tmp, real ENOSPC in the middle of the stream.
  await inNode(['mount', '-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', '/tmp']);
  try {
    await refused('a full disk during the upload', /uploading the agent .* failed: .*No space left on device/);
  } finally {
    await inNode(['umount', '/tmp']);
  }

  // A kernel built without the socket bypass. A fake of the config file only (this kernel has
  // both options): the probe reads /boot/config-<release> first, and this one says sockmap and
  // sk_msg are not set, exactly as a distribution kernel built without them would.
  const release = (await inNode(['uname', '-r'])).trim();
  const config = gunzipSync(readFileSync('/proc/config.gz'))
    .toString('utf8')
    .replace(/^CONFIG_BPF_STREAM_PARSER=y$/m, '# CONFIG_BPF_STREAM_PARSER is not set')
    .replace(/^CONFIG_NET_SOCK_MSG=y$/m, '# CONFIG_NET_SOCK_MSG is not set');
  await inNode(['sh', '-c', `mkdir -p /boot && cat > /boot/config-${release}`], config);
  try {
    await refused(
      'a kernel without sockmap and sk_msg',
      /built without CONFIG_BPF_STREAM_PARSER \(sockmap\/sockhash.*built without CONFIG_NET_SOCK_MSG \(sk_msg/s,
    );
  } finally {
    await inNode(['rm', '-f', `/boot/config-${release}`]);
  }

  // No cgroup v2 (the bypass's sock_ops attaches to a cgroup): the node's own mount namespace
  // without its cgroup2 mount, put back afterwards.
  await inNode(['umount', '/sys/fs/cgroup']);
  try {
    await refused('no cgroup v2', /the kernel lacks a cgroup v2 mount/);
  } finally {
    await inNode(['mount', '-t', 'cgroup2', 'cgroup2', '/sys/fs/cgroup']);
  }

  await refused(
    'a wrong sudo password',
    /sudo on .* refused the password for jfsadmin \[PermissionDenied\]/,
    'not-the-password\n',
  );

  // A wrong host key: refused before authentication, nothing sent.
  const knownHosts = readFileSync(node.knownHostsFile, 'utf8');
  const other = mkdtempSync(join(tmpdir(), 'dfs-otherkey-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(other, 'k')]);
    const fake = readFileSync(join(other, 'k.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
    writeFileSync(node.knownHostsFile, knownHosts.replace(/ssh-ed25519 \S+/, fake));
    await refused('a wrong host key', /\[HostKeyMismatch\]/);
  } finally {
    writeFileSync(node.knownHostsFile, knownHosts);
    rmSync(other, { recursive: true, force: true });
  }

  // An unreachable host: the node's address on a port nothing listens on.
  writeFileSync(
    join(home, '.ssh', 'config'),
    `${node.sshConfig}\nHost gone\n  HostName ${node.host}\n  Port 2222\n  User ${node.user}\n  IdentityFile ${node.identityFile}\n  UserKnownHostsFile ${node.knownHostsFile}\n`,
  );
  const unreachable = await cli(['node', 'install', 'gone', '--sudo-password-stdin'], 'x\n');
  assert.notEqual(unreachable.code, 0);
  assert.match(unreachable.stderr, /\[NodeUnreachable\]/);
});
