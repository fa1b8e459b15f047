/**
 * SSH access to a node: the node user dfs-<name> (system user, password '*', shell /bin/sh,
 * an empty root-owned home in the node's state dir), the host key, authorized_keys, the
 * sshd_config, /run/sshd (created only when missing, and removed by the last node down only
 * if a node created it), and the sshd daemon itself (inside the node's netns and cgroup).
 * The host key and the ssh user's files are root-owned; the user can write none of them.
 */

import { existsSync, readFileSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import type { ComponentCheck } from './netns';
import {
  BIN,
  logFile,
  type NodeAddresses,
  type NodePaths,
  pidFile,
  RUN_SSHD_DIR,
  RUN_SSHD_MARKER,
  SSH_PORT,
} from './paths';
import { ownPid, placementOf, startInNode, stopPids } from './procs';
import { ensureDir, logTail, mkdirs, run, type NodeCtx, waitUntil, writeIfChanged } from './sys';

// ---------------------------------------------------------------------------------------------
// The node user

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  comment: string;
  home: string;
  shell: string;
}

export function passwdEntry(user: string): PasswdEntry | undefined {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === user && f.length >= 7)
      return {
        name: user,
        uid: Number(f[2]),
        gid: Number(f[3]),
        comment: f[4] ?? '',
        home: f[5] ?? '',
        shell: f[6] ?? '',
      };
  }
  return undefined;
}

function shadowPassword(user: string): string | undefined {
  for (const line of readFileSync('/etc/shadow', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === user) return f[1];
  }
  return undefined;
}

export async function ensureUser(ctx: NodeCtx, p: NodePaths): Promise<void> {
  ensureDir(p.home, 0o755);
  const entry = passwdEntry(p.user);
  if (!entry) {
    ctx.progress(`creating user ${p.user}`);
    await run(ctx, BIN.useradd, [
      '--system',
      '--user-group',
      '--home-dir',
      p.home,
      '--no-create-home',
      '--shell',
      '/bin/sh',
      '--comment',
      `dfs-ebpf local test node ${p.name}`,
      '--password',
      '*',
      p.user,
    ]);
    return;
  }
  if (entry.home !== p.home) {
    throw new DfsError(
      ErrorCode.Conflict,
      `user ${p.user} already exists with home ${entry.home} and was not created by dfs-ebpf; remove it or pick another node name`,
    );
  }
  // '!' (locked) makes sshd with UsePAM no refuse the account; '*' only forbids passwords.
  if (shadowPassword(p.user) !== '*') await run(ctx, BIN.usermod, ['--password', '*', p.user]);
  if (entry.shell !== '/bin/sh') await run(ctx, BIN.usermod, ['--shell', '/bin/sh', p.user]);
}

export async function removeUser(ctx: NodeCtx, p: NodePaths): Promise<void> {
  const entry = passwdEntry(p.user);
  if (!entry) return;
  if (entry.home !== p.home) {
    ctx.log.warn(`leaving user ${p.user}: its home ${entry.home} shows it was not created by dfs-ebpf`);
    return;
  }
  ctx.progress(`removing user ${p.user}`);
  await run(ctx, BIN.userdel, [p.user]);
}

// ---------------------------------------------------------------------------------------------
// Keys and configuration

/** Generates the host key if missing; returns the public key line ("ssh-ed25519 AAAA... comment"). */
export async function ensureHostKey(ctx: NodeCtx, p: NodePaths): Promise<string> {
  if (!existsSync(p.hostKey) || !existsSync(p.hostKeyPub)) {
    ctx.progress('generating the node host key');
    for (const f of [p.hostKey, p.hostKeyPub]) if (existsSync(f)) unlinkSync(f);
    await run(ctx, BIN.sshKeygen, ['-q', '-t', 'ed25519', '-N', '', '-C', `dfs-ebpf-node-${p.name}`, '-f', p.hostKey]);
  }
  return readFileSync(p.hostKeyPub, 'utf8').trim();
}

export function writeAuthorizedKeys(p: NodePaths, clientPub: string): void {
  ensureDir(p.authorizedKeysDir, 0o755);
  writeIfChanged(p.authorizedKeys, clientPub.trim() + '\n', { mode: 0o644, uid: 0, gid: 0 });
}

export function sshdConfigText(p: NodePaths, a: NodeAddresses): string {
  return [
    `# dfs-ebpf local test node ${p.name}: written by \`dfs-ebpf node up\`, removed by \`node down\`.`,
    `ListenAddress ${a.nodeAddr}`,
    `Port ${SSH_PORT}`,
    `HostKey ${p.hostKey}`,
    `PidFile ${pidFile(p, 'sshd')}`,
    `AuthorizedKeysFile ${p.authorizedKeysDir}/%u`,
    `AllowUsers ${p.user}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin no',
    'UsePAM no',
    'AllowTcpForwarding no',
    'AllowAgentForwarding no',
    'AllowStreamLocalForwarding no',
    'PermitTunnel no',
    'X11Forwarding no',
    'PrintMotd no',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// /run/sshd, the privilege-separation directory sshd insists on

export function ensureRunSshd(ctx: NodeCtx): void {
  if (existsSync(RUN_SSHD_DIR)) return;
  mkdirs(RUN_SSHD_DIR, 0o755);
  writeFileSync(RUN_SSHD_MARKER, `created by dfs-ebpf node up; removed with the last local node\n`, { mode: 0o644 });
  ctx.log.debug(`created ${RUN_SSHD_DIR}`);
}

/** Removes /run/sshd if a local node created it and no local node remains. */
export function releaseRunSshd(ctx: NodeCtx, otherNodes: readonly string[]): void {
  if (!existsSync(RUN_SSHD_MARKER) || otherNodes.length > 0) return;
  if (existsSync(RUN_SSHD_DIR)) {
    try {
      rmdirSync(RUN_SSHD_DIR);
    } catch (e) {
      // Something else put files there since (a system sshd): it is theirs now.
      ctx.log.warn(`leaving ${RUN_SSHD_DIR}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  unlinkSync(RUN_SSHD_MARKER);
}

// ---------------------------------------------------------------------------------------------
// The daemon

/** Reads the SSH identification string from host:port, or '' when nothing answers in time. */
export function sshBanner(host: string, port: number, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port });
    let buf = '';
    const done = (v: string): void => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(timeoutMs, () => done(''));
    sock.on('error', () => done(''));
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(buf.slice(0, nl).trim());
    });
  });
}

export async function sshdStatus(p: NodePaths, a: NodeAddresses | undefined): Promise<ComponentCheck> {
  const placed = placementOf(p, pidFile(p, 'sshd'), /^sshd/);
  if (!placed.ok || !a) return { ok: false, detail: placed.detail };
  const banner = await sshBanner(a.nodeAddr, SSH_PORT);
  if (!banner.startsWith('SSH-2.0-'))
    return { ok: false, detail: `${placed.detail}, but ${a.nodeAddr}:${SSH_PORT} does not answer` };
  return { ok: true, detail: `${placed.detail}, ${banner} on ${a.nodeAddr}:${SSH_PORT}` };
}

export async function ensureSshd(ctx: NodeCtx, p: NodePaths, a: NodeAddresses, cgroupDir: string): Promise<void> {
  ensureRunSshd(ctx);
  const configChanged = writeIfChanged(p.sshdConfig, sshdConfigText(p, a), { mode: 0o644, uid: 0, gid: 0 });
  if ((await sshdStatus(p, a)).ok && !configChanged) return;
  // Ours but unhealthy, misplaced or on an old configuration: stop it before starting anew.
  await stopPids(ctx, ownPid(placementOf(p, pidFile(p, 'sshd'), /^sshd/)));
  await run(ctx, BIN.sshd, ['-t', '-f', p.sshdConfig]).catch((e: unknown) => {
    throw new DfsError(
      ErrorCode.Internal,
      `sshd rejects ${p.sshdConfig}: ${e instanceof Error ? e.message : String(e)}; fix it or run node down and up`,
    );
  });
  ctx.progress('starting sshd');
  const log = logFile(p, 'sshd');
  await startInNode(ctx, p, cgroupDir, 'sshd', [BIN.sshd, '-f', p.sshdConfig, '-E', log], log);
  const ok = await waitUntil(10_000, async () => (await sshdStatus(p, a)).ok, 100);
  if (!ok) {
    const why = (await sshdStatus(p, a)).detail;
    throw new DfsError(ErrorCode.Internal, `sshd did not come up (${why}): ${logTail(log)}; see ${log}`);
  }
}
