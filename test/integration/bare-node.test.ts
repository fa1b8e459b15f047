/**
 * Integration test of the bare test node (core/src/testnode/bare.ts): a node that looks like a
 * user's fresh Debian 12 server, for the remote installer's tests. Needs root, mmdebstrap and the
 * Debian mirror the first time (the rootfs cache build, about a minute). Everything is real but
 * the three documented fakes. Proves, over SSH as the node's admin with its key (host key
 * checked, the Host block resolved by the product's own ssh_config resolver, never as a local
 * node): none of our tools are there (Node.js, clang, bpftool, libbpf, files of ours); sudo asks
 * for the password and takes it; the kernel's BTF is readable; JuiceFS at /mnt/jfs moves bytes
 * exactly; every service runs in the node cgroup and mount namespace; a second up changes
 * nothing; maskBtf, arch and installLimitMb each show their condition and go away again; down
 * leaves no netns, mount, process, cgroup or state dir, and a second down is a quiet no-op.
 */

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Logger } from '../../core/src/log';
import { SshConnection } from '../../core/src/ssh/connection';
import { localNodeName, resolveTarget } from '../../core/src/ssh/target';
import { readLocalNode } from '../../core/src/testnode';
import { type BareNode, bareNodeDown, bareNodeUp, runInBareNode } from '../../core/src/testnode/bare';
import { allPids, procText } from '../support/procfs';

const NAME = 'dfsbare1';
const TIMEOUT = 10 * 60_000;
const SERVER_DIR = `/var/lib/dfs-ebpf/nodes/${NAME}`;
const MNTNS_FILE = `/run/dfs-ebpf-mntns/${NAME}`;

const tmp = mkdtempSync(join(tmpdir(), 'dfs-bare-'));
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
const opts = { name: NAME, log, progress: record };

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Result {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `command` over the connection with `input` on stdin, bounded. */
async function sshRun(
  conn: SshConnection,
  command: string,
  input?: string | Buffer,
  timeoutMs = 30_000,
): Promise<Result> {
  const { channel, exited } = await conn.exec(command);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  channel.on('data', (d: Buffer) => out.push(d));
  channel.stderr.on('data', (d: Buffer) => err.push(d));
  channel.end(input);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      channel.close();
      reject(new Error(`"${command}" took over ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    const code = await Promise.race([exited, timeout]);
    return { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') };
  } finally {
    clearTimeout(timer);
  }
}

const text = (r: Result): string => r.stdout.toString('utf8');

/** "dev:ino" of a namespace file, or undefined when it cannot be read. */
function nsId(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** Running (not a zombie) processes whose mount namespace is `id`. */
function processesInMntns(id: string): number[] {
  return allPids().filter((pid) => {
    const stat = procText(pid, 'stat');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== undefined && state !== 'Z' && nsId(`/proc/${pid}/ns/mnt`) === id;
  });
}

/** Every path of the upper layer with mode and owner (logs' sizes and times change, so none are kept). */
function upperListing(upper: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      const st = statSync(p, { throwIfNoEntry: false });
      out.push(`${relative(upper, p)} ${st ? `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}` : 'whiteout'}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(upper);
  return out.sort();
}

const bareJson = (): { pids: Record<string, number> } =>
  JSON.parse(readFileSync(join(SERVER_DIR, 'bare.json'), 'utf8')) as { pids: Record<string, number> };

void describe('bare test node', { timeout: TIMEOUT }, () => {
  let node: BareNode;
  let conn: SshConnection;

  const connect = async (): Promise<SshConnection> => {
    // The Host block through the product's own resolver: a remote alias, not a local node.
    const target = resolveTarget(NAME, {}, { home: tmp, sshConfigText: () => node.sshConfig });
    return SshConnection.connect(target, { log, readyTimeoutMs: 15_000 });
  };

  before(async () => {
    assert.equal(process.getuid?.(), 0, 'this integration test needs root');
    process.env.XDG_STATE_HOME = join(tmp, 'state');
    await bareNodeDown(opts); // a previous run that died half-way
  });

  after(async () => {
    conn?.close();
    try {
      await bareNodeDown(opts);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  void it('up brings up a node reached over SSH as an ssh_config alias', { timeout: TIMEOUT }, async (t) => {
    const t0 = Date.now();
    node = await bareNodeUp(opts);
    t.diagnostic(`first up: ${Date.now() - t0} ms (includes the rootfs cache build when there was none)`);
    assert.equal(node.name, NAME);
    assert.match(node.host, /^10\.213\.\d+\.2$/);
    assert.equal(node.port, 22);
    assert.equal(node.user, 'jfsadmin');
    assert.match(node.password, /^[0-9a-f]{32}$/);
    assert.equal(statSync(join(SERVER_DIR, 'password')).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(SERVER_DIR, 'password'), 'utf8').trim(), node.password);
    assert.equal(node.mountpoint, '/mnt/jfs');
    assert.equal(node.rootDir, '/');
    assert.match(node.cgroup, /\/dfs-ebpf\/dfsbare1$/);
    assert.equal(node.mntnsFile, MNTNS_FILE);
    assert.equal(node.identityFile, join(tmp, 'state', 'dfs-ebpf', 'bare', NAME, 'id_ed25519'));
    assert.equal(statSync(node.identityFile).mode & 0o777, 0o600);
    for (const line of [
      `Host ${NAME}`,
      `  HostName ${node.host}`,
      '  Port 22',
      '  User jfsadmin',
      `  IdentityFile ${node.identityFile}`,
      `  UserKnownHostsFile ${node.knownHostsFile}`,
    ])
      assert.ok(node.sshConfig.split('\n').includes(line), line);
    assert.equal(readFileSync(node.sshConfigFile, 'utf8'), node.sshConfig);
    // Not a local node: nothing resolves it as one.
    assert.equal(readLocalNode(NAME), null);
    assert.equal(localNodeName(NAME), null);

    conn = await connect();
    const id = await sshRun(
      conn,
      'id -un; id -Gn; readlink /proc/self/ns/net /proc/self/ns/mnt; cat /proc/self/cgroup',
    );
    assert.equal(id.code, 0, id.stderr);
    const [user, groups, net, mnt] = text(id).split('\n');
    assert.equal(user, 'jfsadmin');
    assert.ok(groups?.split(' ').includes('sudo'), groups);
    assert.equal(net, `net:[${statSync(`/run/netns/${NAME}`).ino}]`);
    assert.equal(mnt, `mnt:[${statSync(MNTNS_FILE).ino}]`);
    assert.match(text(id), new RegExp(`^0::/dfs-ebpf/${NAME}$`, 'm'));
  });

  void it('has none of our tools and no file of ours', async () => {
    const r = await sshRun(
      conn,
      'for t in node nodejs clang gcc cc bpftool bpftrace; do command -v "$t"; done; ' +
        'ls /usr/lib/*/libbpf* /usr/lib/libbpf* /usr/include/bpf /usr/local/lib/dfs-ebpf /etc/sudoers.d/dfs-ebpf* 2>/dev/null; ' +
        'dpkg-query -W -f "\\${Package}\\n" libbpf1 libbpf-dev bpftool nodejs clang 2>/dev/null; echo end',
    );
    assert.equal(text(r), 'end\n', `found: ${text(r)}`);
    // Everything that differs from the fresh Debian is in the upper layer: none of it is ours.
    const ours = upperListing(node.upperDir).filter((l) => /dfs|bpf|node_modules/i.test(l.split(' ')[0] ?? ''));
    assert.deepEqual(ours, []);
  });

  void it('sudo asks for the password and takes it', async () => {
    const n = await sshRun(conn, 'sudo -n true');
    assert.notEqual(n.code, 0);
    assert.match(n.stderr, /a password is required/);
    const s = await sshRun(conn, "sudo -S -p '' id -u", `${node.password}\n`);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(text(s), '0\n');
  });

  void it('shows the kernel BTF, cgroup v2 and a node of this machine', async () => {
    const r = await sshRun(
      conn,
      'test -r /sys/kernel/btf/vmlinux && stat -c %s /sys/kernel/btf/vmlinux; stat -fc %T /sys/fs/cgroup; uname -m',
    );
    assert.equal(r.code, 0, r.stderr);
    const [size, cgroupFs, machine] = text(r).split('\n');
    assert.ok(Number(size) > 1_000_000, `vmlinux BTF size ${size}`);
    assert.equal(cgroupFs, 'cgroup2fs');
    assert.equal(machine, 'x86_64');
  });

  void it('moves bytes through JuiceFS at /mnt/jfs exactly', async () => {
    const m = await sshRun(conn, 'findmnt -n -o FSTYPE /mnt/jfs');
    assert.equal(text(m).trim(), 'fuse.juicefs');
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const w = await sshRun(conn, 'cat > /mnt/jfs/roundtrip.bin', data);
    assert.equal(w.code, 0, w.stderr);
    // Read back through a fresh open, from the file system and over another channel.
    const back = await sshRun(conn, 'sync; cat /mnt/jfs/roundtrip.bin');
    assert.equal(back.code, 0, back.stderr);
    assert.equal(back.stdout.length, data.length);
    assert.equal(sha256(back.stdout), sha256(data));
    // The same file as root inside the node, through JuiceFS's own view.
    const inside = await runInBareNode(NAME, ['sha256sum', '/mnt/jfs/roundtrip.bin']);
    assert.equal(inside.stdout.split(' ')[0], sha256(data));
    // And as the admin, with input, through runInBareNode's user option.
    const asUser = await runInBareNode(
      NAME,
      ['sh', '-c', 'id -un; cat > /mnt/jfs/from-stdin; cat /mnt/jfs/from-stdin'],
      {
        user: 'jfsadmin',
        input: 'hello\n',
      },
    );
    assert.equal(asUser.code, 0, asUser.stderr);
    assert.equal(asUser.stdout, 'jfsadmin\nhello\n');
    // The mount is the node's only: the host does not see it.
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes('JuiceFS:dfsbare1'));
  });

  void it('runs every service by recorded PID in the node cgroup and mount namespace', () => {
    const pids = bareJson().pids;
    assert.deepEqual(Object.keys(pids).sort(), ['juicefs', 'redis-meta', 'redis-object', 'sshd']);
    const procs = readFileSync(join(node.cgroup, 'cgroup.procs'), 'utf8').split('\n').map(Number);
    const mnt = nsId(MNTNS_FILE);
    for (const [svc, pid] of Object.entries(pids)) {
      assert.ok(procs.includes(pid), `${svc} ${pid} is in the node cgroup`);
      assert.equal(nsId(`/proc/${pid}/ns/mnt`), mnt, `${svc} is in the node mount namespace`);
      assert.equal(nsId(`/proc/${pid}/ns/net`), nsId(`/run/netns/${NAME}`), `${svc} is in the node netns`);
    }
    assert.match(procText(pids['redis-meta'] ?? 0, 'status'), /^Uid:\s+(\d+)\s/m);
    assert.notEqual(/^Uid:\s+(\d+)\s/m.exec(procText(pids['redis-meta'] ?? 0, 'status'))?.[1], '0');
  });

  void it('a second up changes nothing', async () => {
    const before = {
      pids: bareJson().pids,
      upper: upperListing(node.upperDir).filter((l) => !l.startsWith('var/log/')),
      mounts: (await runInBareNode(NAME, ['cat', '/proc/self/mountinfo'])).stdout,
      known: readFileSync(node.knownHostsFile, 'utf8'),
      shadow: (await runInBareNode(NAME, ['getent', 'shadow', 'jfsadmin'])).stdout,
    };
    progress.length = 0;
    const again = await bareNodeUp(opts);
    assert.deepEqual(progress, []);
    assert.deepEqual(again, node);
    assert.deepEqual(bareJson().pids, before.pids);
    assert.deepEqual(
      upperListing(node.upperDir).filter((l) => !l.startsWith('var/log/')),
      before.upper,
    );
    assert.equal((await runInBareNode(NAME, ['cat', '/proc/self/mountinfo'])).stdout, before.mounts);
    assert.equal(readFileSync(node.knownHostsFile, 'utf8'), before.known);
    assert.equal((await runInBareNode(NAME, ['getent', 'shadow', 'jfsadmin'])).stdout, before.shadow);
    const still = await sshRun(conn, 'cat /mnt/jfs/roundtrip.bin | wc -c');
    assert.equal(text(still).trim(), String(3 * 1024 * 1024 + 17));
  });

  void it('maskBtf, arch and installLimitMb each show their condition, and go away again', async () => {
    const faked = await bareNodeUp({ ...opts, maskBtf: true, arch: 'aarch64', installLimitMb: 8 });
    assert.deepEqual(faked.variants, { maskBtf: true, arch: 'aarch64', installLimitMb: 8 });
    const r = await sshRun(
      conn,
      'uname -m; uname -s; if test -r /sys/kernel/btf/vmlinux; then echo btf; else echo no-btf; fi; ' +
        'df -Pk /usr/local/lib | tail -n 1',
    );
    assert.equal(r.code, 0, r.stderr);
    const [machine, kernel, btf, df] = text(r).split('\n');
    assert.equal(machine, 'aarch64');
    assert.equal(kernel, 'Linux');
    assert.equal(btf, 'no-btf');
    assert.match(df ?? '', /^tmpfs\s+8192\s/);
    // An install there runs out of space part-way, as on a full disk.
    const full = await sshRun(
      conn,
      "sudo -S -p '' sh -c 'mkdir -p /usr/local/lib/dfs-ebpf && head -c 16777216 /dev/zero > /usr/local/lib/dfs-ebpf/blob'",
      `${node.password}\n`,
    );
    assert.notEqual(full.code, 0);
    assert.match(full.stderr, /No space left on device/);

    const plain = await bareNodeUp(opts);
    assert.deepEqual(plain.variants, { maskBtf: false, arch: null, installLimitMb: null });
    const back = await sshRun(
      conn,
      'uname -m; test -r /sys/kernel/btf/vmlinux && echo btf; ls /usr/local/lib; command -v uname',
    );
    assert.equal(text(back), 'x86_64\nbtf\n/usr/bin/uname\n');
    // The services did not restart for it.
    assert.ok(existsSync(`/proc/${bareJson().pids.sshd}`));
  });

  void it('down leaves no netns, mount, process, cgroup or state dir; a second down does nothing', async () => {
    const mnt = nsId(MNTNS_FILE);
    assert.ok(mnt);
    const pids = Object.values(bareJson().pids);
    const fuseConn = (await runInBareNode(NAME, ['findmnt', '-n', '-o', 'MAJ:MIN', '/mnt/jfs'])).stdout.trim();
    conn.close();
    progress.length = 0;
    await bareNodeDown(opts);
    assert.ok(progress.length > 0);

    assert.ok(!existsSync(`/run/netns/${NAME}`));
    const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8', timeout: 10_000 }).stdout;
    assert.ok(!links.includes(`vh-${NAME}`), links);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
    for (const s of [MNTNS_FILE, SERVER_DIR, '/run/dfs-ebpf-mntns']) assert.ok(!mounts.includes(s), s);
    assert.deepEqual(processesInMntns(mnt), []);
    for (const pid of pids) {
      const stat = procText(pid, 'stat');
      assert.ok(stat === '' || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z'), `pid ${pid} still runs`);
    }
    assert.ok(!existsSync(node.cgroup));
    const [major, minor] = fuseConn.split(':').map(Number);
    assert.ok(!existsSync(`/sys/fs/fuse/connections/${(major ?? 0) * 2 ** 20 + (minor ?? 0)}`) || fuseConn === '');
    for (const dir of [SERVER_DIR, MNTNS_FILE, join(tmp, 'state', 'dfs-ebpf', 'bare', NAME)])
      assert.ok(!existsSync(dir), dir);
    await assert.rejects(runInBareNode(NAME, ['true']), /not up/);

    progress.length = 0;
    await bareNodeDown(opts);
    assert.deepEqual(progress, []);
  });
});
