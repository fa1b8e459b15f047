/**
 * The client's update key and the signing of `agent/update` bundles. The key is Ed25519, made
 * here (node:crypto) the first time this client installs or updates an agent, and kept in the
 * client's state directory: $XDG_STATE_HOME/dfs-ebpf/agent-update.key (PKCS#8 PEM, 0600, owned
 * by the client user, never in settings) with its public line in agent-update.pub. A node
 * trusts a bundle only when this public line is pinned root-owned in its `update-keys` file
 * (local nodes: agentInstall.ts at install; remote nodes: by hand, see README). Creation is
 * race-free: the key is written to a private temporary file and linked into place, so two
 * clients starting at once end up with the same key.
 */

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import {
  chownSync,
  existsSync,
  linkSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { ErrorCode, UPDATE_KEY_TYPE, updateSigningText, type AgentUpdateParams } from '@dfs/protocol';
import { DfsError } from '../errors';
import { clientOwner, clientStateRoot } from '../testnode/paths';
import { mkdirs } from '../testnode/sys';

export interface UpdateKeyPaths {
  privateKey: string;
  publicKey: string;
}

export function updateKeyPaths(env: NodeJS.ProcessEnv = process.env): UpdateKeyPaths {
  const root = clientStateRoot(env);
  return { privateKey: join(root, 'agent-update.key'), publicKey: join(root, 'agent-update.pub') };
}

export interface UpdateKey {
  privateKey: KeyObject;
  /** The raw 32-byte public key. */
  publicRaw: Buffer;
  /** The line a node pins: `dfs-ebpf-update-ed25519 <base64> <comment>`. */
  line: string;
  /** SHA256:<base64>, as the agent names keys in its refusals. */
  fingerprint: string;
  paths: UpdateKeyPaths;
}

export function keyFingerprint(raw: Buffer): string {
  return `SHA256:${createHash('sha256').update(raw).digest('base64').replace(/=+$/, '')}`;
}

function publicRawOf(key: KeyObject): Buffer {
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  return Buffer.from(jwk.x ?? '', 'base64url');
}

/** The client's update key, or null when it was never made. Refuses a key others can read. */
export function loadUpdateKey(env: NodeJS.ProcessEnv = process.env): UpdateKey | null {
  const paths = updateKeyPaths(env);
  if (!existsSync(paths.privateKey)) return null;
  const st = statSync(paths.privateKey);
  if ((st.mode & 0o077) !== 0) {
    throw new DfsError(
      ErrorCode.PermissionDenied,
      `the update key ${paths.privateKey} is accessible to other users (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 ${paths.privateKey}`,
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(paths.privateKey, 'utf8'));
  } catch (e) {
    throw new DfsError(
      ErrorCode.Internal,
      `the update key ${paths.privateKey} is unreadable (${e instanceof Error ? e.message : String(e)}); move it away to make a new one, then pin the new key on your nodes`,
    );
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new DfsError(ErrorCode.Internal, `the update key ${paths.privateKey} is not an Ed25519 key`);
  }
  const publicRaw = publicRawOf(privateKey);
  const line = `${UPDATE_KEY_TYPE} ${publicRaw.toString('base64')} dfs-ebpf-client@${hostname()}`;
  return { privateKey, publicRaw, line, fingerprint: keyFingerprint(publicRaw), paths };
}

/** The client's update key, made now if it does not exist yet (and its .pub kept beside it). */
export function ensureUpdateKey(env: NodeJS.ProcessEnv = process.env): UpdateKey {
  const paths = updateKeyPaths(env);
  const owner = clientOwner(env);
  const chown = (p: string): void => {
    if (process.getuid?.() === 0) chownSync(p, owner.uid, owner.gid);
  };
  if (!existsSync(paths.privateKey)) {
    mkdirs(dirname(paths.privateKey), 0o700, owner);
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const tmp = `${paths.privateKey}.tmp-${process.pid}-${Date.now()}`;
    writeFileSync(tmp, pem, { mode: 0o600, flag: 'wx' });
    try {
      chown(tmp);
      linkSync(tmp, paths.privateKey); // fails if another client made the key first: theirs wins
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      unlinkSync(tmp);
    }
  }
  const key = loadUpdateKey(env);
  if (!key) throw new DfsError(ErrorCode.Internal, `the update key ${paths.privateKey} vanished while being made`);
  const current = existsSync(paths.publicKey) ? readFileSync(paths.publicKey, 'utf8') : '';
  if (current !== `${key.line}\n`) {
    const tmp = `${paths.publicKey}.tmp-${process.pid}`;
    writeFileSync(tmp, `${key.line}\n`, { mode: 0o644 });
    chown(tmp);
    // rename replaces atomically: a reader sees the old line or the new one, never half.
    renameSync(tmp, paths.publicKey);
  }
  return key;
}

/** The bundle with a signature by `key` over updateSigningText (what the agent verifies). */
export function signBundle(p: AgentUpdateParams, key: UpdateKey): AgentUpdateParams {
  const unsigned = { version: p.version, arch: p.arch, build: p.build, files: p.files };
  const value = sign(null, Buffer.from(updateSigningText(unsigned), 'utf8'), key.privateKey);
  return { ...unsigned, signature: { publicKey: key.publicRaw.toString('base64'), value: value.toString('base64') } };
}
