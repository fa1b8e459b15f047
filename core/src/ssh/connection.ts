/**
 * One SSH connection to a test node (ssh2). The host key is checked against known_hosts in
 * hostVerifier, i.e. during key exchange and before any credential is sent; a mismatch or an
 * unknown host is refused with a coded error that says which file and line to fix. Auth is
 * by private key (identity file, passphrase asked through a callback and never stored here)
 * or by the ssh-agent. Keepalives detect a node that went away.
 */

import { readFileSync } from 'node:fs';
import { Client, utils, type ClientChannel, type ConnectConfig } from 'ssh2';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import type { Logger } from '../log';
import { checkHostKeyFile, fingerprint, hostKeyName, keyTypeOf, type HostKeyVerdict } from './knownHosts';
import { targetAddress, type NodeTarget } from './target';

export interface ConnectOptions {
  log: Logger;
  /** Asked when the identity file is encrypted; return undefined to give up. */
  askPassphrase?: (keyFile: string) => Promise<string | undefined>;
  readyTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  /** Observability for tests and logs: called when authentication starts. */
  onAuthStart?: () => void;
}

export interface ExecChannel {
  channel: ClientChannel;
  /** Resolves with the exit code (null when killed by a signal) when the remote command ends. */
  exited: Promise<number | null>;
}

async function loadKey(file: string, opts: ConnectOptions): Promise<{ privateKey: Buffer; passphrase?: string }> {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    throw new DfsError(ErrorCode.AuthFailed, `cannot read identity file ${file}: ${(err as Error).message}`);
  }
  const parsed = utils.parseKey(data);
  if (!(parsed instanceof Error)) return { privateKey: data };
  if (!/passphrase|encrypted/i.test(parsed.message)) {
    throw new DfsError(ErrorCode.AuthFailed, `identity file ${file} is not a usable private key: ${parsed.message}`);
  }
  const passphrase = await opts.askPassphrase?.(file);
  if (passphrase === undefined) {
    throw new DfsError(ErrorCode.AuthFailed, `identity file ${file} is encrypted and no passphrase was given`);
  }
  if (utils.parseKey(data, passphrase) instanceof Error) {
    throw new DfsError(ErrorCode.AuthFailed, `wrong passphrase for ${file}`);
  }
  return { privateKey: data, passphrase };
}

function hostKeyError(t: NodeTarget, v: HostKeyVerdict, key: Buffer): DfsError {
  const fp = `${keyTypeOf(key)} ${fingerprint(key)}`;
  const name = hostKeyName(t.host, t.port);
  switch (v.kind) {
    case 'mismatch':
      return new DfsError(
        ErrorCode.HostKeyMismatch,
        `host key of ${name} does not match ${v.file}:${v.line}: the node presented ${fp}. Refused before authentication; if the node was reinstalled, remove the old entry (ssh-keygen -R '${name}' -f ${v.file})`,
      );
    case 'revoked':
      return new DfsError(
        ErrorCode.HostKeyMismatch,
        `host key ${fp} of ${name} is marked @revoked in ${v.file}:${v.line}; refused`,
      );
    default:
      return new DfsError(
        ErrorCode.HostKeyUnknown,
        `${name} is not in ${t.knownHostsFile} (it presented ${fp}); connect once with ssh to check and record its key, then retry`,
      );
  }
}

function translateSshError(err: Error & { level?: string; code?: string }, t: NodeTarget): DfsError {
  const where = targetAddress(t);
  if (err.level === 'client-authentication') {
    return new DfsError(
      ErrorCode.AuthFailed,
      `${where} refused our credentials (tried: ${t.identityFile ?? 'ssh-agent'})`,
    );
  }
  if (err.level === 'client-timeout' || /timed out/i.test(err.message)) {
    return new DfsError(ErrorCode.NodeUnreachable, `${where} did not complete the SSH handshake in time`);
  }
  if (
    err.code &&
    ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'ECONNRESET'].includes(err.code)
  ) {
    return new DfsError(ErrorCode.NodeUnreachable, `cannot reach ${where}: ${err.code}`);
  }
  return new DfsError(ErrorCode.NodeUnreachable, `SSH to ${where} failed: ${err.message}`);
}

export class SshConnection {
  private closed = false;
  private readonly closeListeners: ((why: string) => void)[] = [];

  private constructor(
    private readonly client: Client,
    readonly target: NodeTarget,
  ) {
    client.on('close', () => this.markClosed('connection closed'));
    client.on('end', () => this.markClosed('connection ended'));
  }

  static async connect(target: NodeTarget, opts: ConnectOptions): Promise<SshConnection> {
    const key = target.identityFile ? await loadKey(target.identityFile, opts) : undefined;
    const agent = process.env.SSH_AUTH_SOCK;
    if (!key && !agent) {
      throw new DfsError(
        ErrorCode.AuthFailed,
        `no identity file for ${targetAddress(target)} and no ssh-agent (SSH_AUTH_SOCK)`,
      );
    }
    const client = new Client();
    let refused: DfsError | undefined;
    const tried: ('publickey' | 'agent')[] = [];
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.user,
      readyTimeout: opts.readyTimeoutMs ?? 15_000,
      keepaliveInterval: opts.keepaliveIntervalMs ?? 5_000,
      keepaliveCountMax: 3,
      hostVerifier: (hostKey: Buffer): boolean => {
        const verdict = checkHostKeyFile(target.knownHostsFile, target.host, target.port, hostKey);
        if (verdict.kind === 'match') return true;
        refused = hostKeyError(target, verdict, hostKey);
        opts.log.error(refused.message);
        return false;
      },
      authHandler: (methodsLeft, _partial, next) => {
        // Called only after the host key was accepted.
        if (methodsLeft === null) opts.onAuthStart?.();
        if (key && !tried.includes('publickey')) {
          tried.push('publickey');
          return next({
            type: 'publickey',
            username: target.user,
            key: key.privateKey,
            ...(key.passphrase ? { passphrase: key.passphrase } : {}),
          });
        }
        if (agent && !tried.includes('agent')) {
          tried.push('agent');
          return next({ type: 'agent', username: target.user, agent });
        }
        return next(false as never);
      },
    };
    opts.log.info(`connecting to ${targetAddress(target)} (known_hosts ${target.knownHostsFile})`);
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve());
      client.once('error', (err: Error & { level?: string; code?: string }) => {
        reject(refused ?? translateSshError(err, target));
      });
      client.connect(config);
    });
    // JSON-RPC writes a request's header and body separately: with Nagle's algorithm the body
    // waits for the node's delayed ACK, ~40 ms per request (measured by `bench maps`).
    client.setNoDelay(true);
    opts.log.info(`connected to ${targetAddress(target)}`);
    return new SshConnection(client, target);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  onClose(listener: (why: string) => void): void {
    if (this.closed) listener('connection closed');
    else this.closeListeners.push(listener);
  }

  private markClosed(why: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.closeListeners.splice(0)) l(why);
  }

  /** Run a command (no PTY); the caller owns the channel's stdio. */
  exec(command: string): Promise<ExecChannel> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, channel) => {
        if (err)
          return reject(
            new DfsError(
              ErrorCode.ConnectionLost,
              `cannot start "${command}" on ${targetAddress(this.target)}: ${err.message}`,
            ),
          );
        const exited = new Promise<number | null>((res) => {
          let code: number | null = null;
          channel.on('exit', (c: number | null) => (code = c));
          channel.on('close', () => res(code));
        });
        resolve({ channel, exited });
      });
    });
  }

  /** Run a command to completion and collect its output (bounded); `input` is its whole stdin. */
  async run(
    command: string,
    timeoutMs = 30_000,
    input?: string,
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const { channel, exited } = await this.exec(command);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    channel.on('data', (d: Buffer) => out.push(d));
    channel.stderr.on('data', (d: Buffer) => err.push(d));
    channel.end(input);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        channel.close();
        reject(
          new DfsError(
            ErrorCode.NodeUnreachable,
            `"${command}" on ${targetAddress(this.target)} took over ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
    });
    try {
      const code = await Promise.race([exited, timeout]);
      return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.client.end();
    this.markClosed('closed by us');
  }
}

/** Quote one argument for the remote POSIX shell that sshd runs exec commands through. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
