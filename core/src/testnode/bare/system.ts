/**
 * What a user's fresh server has besides its packages, made inside the bare node the way an
 * admin would (through the node's own useradd, chpasswd, ssh-keygen): the admin user `jfsadmin`
 * in group sudo with a password (sudo asks for it: Debian's stock `%sudo ALL=(ALL:ALL) ALL`),
 * its authorized key, the node's own SSH host keys (`ssh-keygen -A`, as first boot does),
 * /etc/hosts naming this machine (the node shares the host's UTS namespace and sudo resolves the
 * hostname), the JuiceFS binary in /usr/local/bin (the user's DFS, not ours), and the `arch`
 * variant's fake uname. Also the client side: the key, known_hosts and an ssh_config Host block.
 *
 * Every write goes through the node's mount namespace into the overlay's upper layer, and only
 * when the content, mode or owner differs, so a second `up` writes nothing. Secrets reach the
 * node on stdin, never in argv.
 */

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../../errors';
import { clientOwner, knownHostsName } from '../paths';
import { ensureClientKeyIn } from '../clientState';
import { type NodeCtx, writeIfChanged } from '../sys';
import { type BarePaths, type BareState, INSIDE, readSecret } from './layout';
import { runInNode } from './mntns';

/** Writes stdin to $1 with mode $2 and owner $3 unless it already holds exactly that; prints changed|same. */
const WRITE_SCRIPT = `set -eu
tmp=$(mktemp /tmp/.write.XXXXXX)
trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
if [ -f "$1" ] && [ "$(stat -c '%a %U:%G' "$1")" = "$2 $3" ] && cmp -s "$tmp" "$1"; then echo same; exit 0; fi
mkdir -p "$(dirname "$1")"
cp "$tmp" "$1.new"; chown "$3" "$1.new"; chmod "$2" "$1.new"; mv -f "$1.new" "$1"
echo changed`;

/** A directory $1 with mode $2 and owner $3 (user:group). */
const DIR_SCRIPT = `[ "$(stat -c '%a %U:%G' "$1" 2>/dev/null)" = "$2 $3" ] || install -d -m "$2" -o "\${3%:*}" -g "\${3#*:}" "$1"`;

export class NodeFiles {
  constructor(
    readonly ctx: NodeCtx,
    private readonly bp: BarePaths,
    private readonly cgroupDir: string,
  ) {}

  /** Runs a command inside as root; throws with its stderr when it fails. */
  async sh(argv: string[], input?: string | Buffer, env?: Record<string, string>): Promise<string> {
    const res = await runInNode(this.ctx, this.bp, this.cgroupDir, argv, {
      ...(input !== undefined ? { input } : {}),
      ...(env ? { env } : {}),
    });
    return res.stdout;
  }

  /** true when it changed the file. */
  async write(path: string, content: string | Buffer, mode: string, owner = 'root:root'): Promise<boolean> {
    const out = await this.sh(['sh', '-c', WRITE_SCRIPT, 'sh', path, mode, owner], content);
    return out.trim() === 'changed';
  }

  async dir(path: string, mode: string, owner = 'root:root'): Promise<void> {
    await this.sh(['sh', '-c', DIR_SCRIPT, 'sh', path, mode, owner]);
  }

  async remove(path: string): Promise<void> {
    await this.sh(['sh', '-c', '[ ! -e "$1" ] || rm -f "$1"', 'sh', path]);
  }
}

// ---------------------------------------------------------------------------------------------
// Inside the node

/** The admin user with its password and key; returns the shadow hash now in place. */
export async function ensureAdminUser(
  f: NodeFiles,
  password: string,
  clientPub: string,
  state: BareState,
): Promise<string> {
  const u = INSIDE.user;
  await f.sh([
    'sh',
    '-c',
    'id -u "$1" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --groups sudo "$1"; id -nG "$1" | grep -qw sudo || usermod -aG sudo "$1"',
    'sh',
    u,
  ]);
  const hash = async (): Promise<string> => (await f.sh(['getent', 'shadow', u])).split(':')[1] ?? '';
  let current = await hash();
  if (!state.shadowHash || current !== state.shadowHash) {
    await f.sh(['chpasswd'], `${u}:${password}\n`);
    current = await hash();
  }
  await f.dir(INSIDE.home, '755', `${u}:${u}`);
  await f.dir(`${INSIDE.home}/.ssh`, '700', `${u}:${u}`);
  await f.write(`${INSIDE.home}/.ssh/authorized_keys`, clientPub.trim() + '\n', '600', `${u}:${u}`);
  return current;
}

/** The node's host keys (made once, as first boot does); returns the public key lines. */
export async function ensureHostKeys(f: NodeFiles): Promise<string[]> {
  await f.sh(['ssh-keygen', '-A']);
  const out = await f.sh(['sh', '-c', 'cat /etc/ssh/ssh_host_*_key.pub']);
  const keys = out.split('\n').filter((l) => /^\S+ \S+/.test(l.trim()));
  if (keys.length === 0) throw new DfsError(ErrorCode.Internal, 'the node has no SSH host keys after ssh-keygen -A');
  return keys;
}

/** /etc/hosts as Debian's installer writes it, naming this machine (sudo looks its name up). */
export async function ensureHostsFile(f: NodeFiles): Promise<void> {
  const name = hostname();
  const text = `127.0.0.1\tlocalhost\n127.0.1.1\t${name}\n\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n`;
  await f.write('/etc/hosts', text, '644');
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Copies the host's JuiceFS binary to the node's /usr/local/bin unless the same one is there. */
export async function ensureJuicefsCopy(f: NodeFiles, hostBinary: string): Promise<void> {
  const want = await sha256File(hostBinary);
  const have = await f.sh(['sh', '-c', '[ ! -f "$1" ] || sha256sum "$1"', 'sh', INSIDE.juicefs]);
  if (have.split(' ')[0] === want) return;
  f.ctx.progress('copying JuiceFS into the node');
  await f.write(INSIDE.juicefs, readFileSync(hostBinary), '755');
}

/** The `arch` variant: a uname that prints `arch` for -m and is the real one otherwise. */
export async function ensureUnameFake(f: NodeFiles, arch: string | null): Promise<void> {
  if (arch === null) return f.remove(INSIDE.uname);
  const text = [
    '#!/bin/sh',
    '# Fake of the dfs-ebpf bare test node (variant arch): "a node of another architecture".',
    `case "$1" in -m | --machine) echo ${arch}; exit 0 ;; esac`,
    'exec /usr/bin/uname "$@"',
    '',
  ].join('\n');
  await f.write(INSIDE.uname, text, '755');
}

// ---------------------------------------------------------------------------------------------
// Secrets (host side, root-only)

/** A root-only 0600 secret: the one on disk, or a new one of `bytes` random bytes (hex). */
export function ensureSecret(file: string, bytes: number): string {
  const existing = readSecret(file);
  if (existing) return existing;
  const v = randomBytes(bytes).toString('hex');
  writeIfChanged(file, `${v}\n`, { mode: 0o600, uid: 0, gid: 0 });
  return v;
}

// ---------------------------------------------------------------------------------------------
// The client side

export function ensureClientKey(ctx: NodeCtx, bp: BarePaths): Promise<string> {
  const c = bp.client;
  return ensureClientKeyIn(ctx, c.dir, c.identityFile, c.identityPub, `dfs-ebpf-bare-${bp.name}`);
}

const quoteConf = (s: string): string => (/\s/.test(s) ? `"${s}"` : s);

/** The ssh_config Host block for the node, `alias` being its name. */
export function sshConfigBlock(bp: BarePaths, host: string, port: number): string {
  return [
    `Host ${bp.name}`,
    `  HostName ${host}`,
    `  Port ${port}`,
    `  User ${INSIDE.user}`,
    `  IdentityFile ${quoteConf(bp.client.identityFile)}`,
    '  IdentitiesOnly yes',
    `  UserKnownHostsFile ${quoteConf(bp.client.knownHosts)}`,
    '  StrictHostKeyChecking yes',
    '',
  ].join('\n');
}

export function writeClientFiles(bp: BarePaths, host: string, port: number, hostKeys: readonly string[]): string {
  const owner = clientOwner();
  const mode = { mode: 0o644, uid: owner.uid, gid: owner.gid };
  const name = knownHostsName(host, port);
  const known = hostKeys.map((k) => `${name} ${k.trim().split(/\s+/).slice(0, 2).join(' ')}\n`).join('');
  writeIfChanged(bp.client.knownHosts, known, mode);
  const block = sshConfigBlock(bp, host, port);
  writeIfChanged(bp.client.sshConfig, block, mode);
  return block;
}
