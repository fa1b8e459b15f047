/**
 * Self-update (`agent/update`): the client ships its agent bundle over the authenticated
 * channel and the agent swaps its own install directory for it. Whoever can send this request
 * (the node's SSH user, through the sudo rule) would otherwise run any code as root, so the
 * only check that grants trust is a signature: the bundle (version, arch, build and every
 * file's sha256, see updateSigningText) must be signed with an Ed25519 key pinned in
 * `<parent of the install directory>/update-keys`. That file is outside the install directory
 * (an update can never replace it) and must be root-owned and writable by no one else, as must
 * every directory above it; otherwise nothing is installed (PermissionDenied). The signature is
 * verified before anything is decoded or written; then every file is checked (allowed name,
 * sha256, size), the architecture and manifest.json, and the bundle is written to a staging
 * directory beside the install directory and swapped in with renames. The running process
 * keeps its loaded code; the next connection starts the new agent.
 */

import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  ErrorCode,
  UPDATE_KEY_TYPE,
  UPDATE_KEYS_FILE,
  updateSigningText,
  type AgentUpdateParams,
  type AgentUpdateResult,
} from '@dfs/protocol';
import { AgentError } from './errors';
import type { AgentLog } from './log';
import { AGENT_VERSION } from './version';

const ALLOWED = /^(agent\.js|dfs_bpf\.node|manifest\.json|bpf\/[a-z0-9_]+\.bpf\.o|bpf\/probes\/[a-z0-9_]+\.bpf\.o)$/;
const REQUIRED = ['agent.js', 'dfs_bpf.node', 'manifest.json', 'bpf/bypass.bpf.o'];
/** Decoded size of a whole bundle; its base64 must fit one frame (framing.ts MAX_FRAME_BYTES). */
export const MAX_BUNDLE_BYTES = 32 << 20;

function bad(msg: string): AgentError {
  return new AgentError(ErrorCode.BadRequest, `agent/update: ${msg}`);
}

function denied(msg: string): AgentError {
  return new AgentError(ErrorCode.PermissionDenied, `agent/update: ${msg}`);
}

/** Where the update keys of an agent installed in `installDir` are pinned. */
export function updateKeysPath(installDir: string): string {
  return join(dirname(installDir), UPDATE_KEYS_FILE);
}

/** OpenSSH-style fingerprint of a raw public key: SHA256:<base64 without padding>. */
export function keyFingerprint(raw: Buffer): string {
  return `SHA256:${createHash('sha256').update(raw).digest('base64').replace(/=+$/, '')}`;
}

function howToPin(path: string): string {
  return (
    `to trust a client, put the line of its agent-update.pub ($XDG_STATE_HOME/dfs-ebpf/agent-update.pub, ` +
    `by default ~/.local/state/dfs-ebpf/agent-update.pub) in ${path} as root on the node, owned by root and ` +
    `writable by no one else (for a local test node, \`dfs-ebpf node up --name NAME\` does it)`
  );
}

export interface PinnedKey {
  raw: Buffer;
  fingerprint: string;
  key: KeyObject;
}

function writableByOthers(st: { uid: number; mode: number }): boolean {
  return st.uid !== 0 || (st.mode & 0o022) !== 0;
}

/** The keys pinned at `path`; refuses when there are none or when someone else than root could have written them. */
export function readPinnedKeys(path: string): PinnedKey[] {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    throw denied(
      `no update key is pinned on this node (${path} does not exist), so no bundle can be trusted; ${howToPin(path)}`,
    );
  }
  if (!st.isFile()) throw denied(`${path} is not a regular file; ${howToPin(path)}`);
  if (writableByOthers(st)) {
    throw denied(
      `${path} must be owned by root and writable by no one else (it is uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8)}); as root: chown root:root ${path} && chmod 644 ${path}`,
    );
  }
  for (let d = dirname(path); ; d = dirname(d)) {
    if (writableByOthers(statSync(d))) {
      throw denied(
        `${d} must be owned by root and writable by no one else: whoever can write it could replace the pinned keys in ${path}`,
      );
    }
    if (dirname(d) === d) break;
  }
  return parsePinnedKeys(readFileSync(path, 'utf8'), path);
}

/** The key lines of an update-keys file (`#` comments and blank lines allowed); at least one. */
export function parsePinnedKeys(text: string, path: string): PinnedKey[] {
  const keys: PinnedKey[] = [];
  text.split('\n').forEach((line, i) => {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) return;
    const [type, b64] = t.split(/\s+/);
    if (type !== UPDATE_KEY_TYPE || b64 === undefined || !/^[A-Za-z0-9+/]{43}=$/.test(b64)) {
      throw denied(`line ${i + 1} of ${path} is not "${UPDATE_KEY_TYPE} <base64 key> [comment]"`);
    }
    const raw = Buffer.from(b64, 'base64');
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
    keys.push({ raw, fingerprint: keyFingerprint(raw), key });
  });
  if (keys.length === 0) throw denied(`${path} pins no key; ${howToPin(path)}`);
  return keys;
}

/** Refuse (PermissionDenied) unless one of `keys` (pinned at `path`) signed exactly this bundle; returns its fingerprint. */
export function checkSignature(p: AgentUpdateParams, keys: PinnedKey[], path: string): string {
  if (p.signature === undefined) {
    throw denied(`the bundle is not signed; this agent installs only bundles signed with a key pinned in ${path}`);
  }
  const raw = Buffer.from(p.signature.publicKey, 'base64');
  const fingerprint = keyFingerprint(raw);
  const pinned = keys.find((k) => k.raw.equals(raw));
  if (!pinned) {
    throw denied(
      `the bundle is signed by key ${fingerprint}, which ${path} does not pin (it pins ${keys.map((k) => k.fingerprint).join(', ')}); ${howToPin(path)}`,
    );
  }
  const text = Buffer.from(updateSigningText(p), 'utf8');
  if (!verify(null, text, pinned.key, Buffer.from(p.signature.value, 'base64'))) {
    throw denied(
      `the signature by key ${fingerprint} does not match this bundle: its files, version, arch or build changed after it was signed`,
    );
  }
  return fingerprint;
}

/** Refuse (PermissionDenied) unless a key pinned for `installDir` signed exactly this bundle. */
export function verifyBundleSignature(p: AgentUpdateParams, installDir: string): string {
  const path = updateKeysPath(installDir);
  if (p.signature === undefined) return checkSignature(p, [], path); // refuses, naming the file
  return checkSignature(p, readPinnedKeys(path), path);
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : typeof v === 'undefined' ? 'nothing' : `a ${typeof v}`;
}

/** Check manifest.json against the request: version, arch and build must agree. */
function checkManifest(data: Buffer, p: AgentUpdateParams): void {
  let manifest: unknown;
  try {
    manifest = JSON.parse(data.toString('utf8'));
  } catch {
    throw bad('manifest.json is not JSON');
  }
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
    throw bad(`manifest.json must be a JSON object with version, arch and build, not ${kind(manifest)}`);
  }
  const m = manifest as Record<string, unknown>;
  for (const k of ['version', 'arch'] as const) {
    if (typeof m[k] !== 'string') throw bad(`manifest.json has no string "${k}" (found ${kind(m[k])})`);
    if (m[k] !== p[k]) throw bad(`manifest.json says ${k} ${String(m[k])}, the request ${p[k]}`);
  }
  if (m.build !== undefined && typeof m.build !== 'string')
    throw bad(`manifest.json "build" is ${kind(m.build)}, not a string`);
  if ((m.build ?? '') !== p.build)
    throw bad(`manifest.json says build ${String(m.build ?? "''")}, the request ${p.build}`);
}

/** Check a (signed) bundle's content completely before anything is written; returns the decoded files. */
export function checkBundle(p: AgentUpdateParams, arch: string = process.arch): Map<string, Buffer> {
  if (p.arch !== arch) throw bad(`the bundle is built for ${p.arch}, this node runs ${arch}`);
  const files = new Map<string, Buffer>();
  let total = 0;
  for (const f of p.files) {
    if (!ALLOWED.test(f.path)) throw bad(`unexpected file ${JSON.stringify(f.path)} in the bundle`);
    if (files.has(f.path)) throw bad(`${f.path} appears twice`);
    const data = Buffer.from(f.data, 'base64');
    total += data.length;
    if (total > MAX_BUNDLE_BYTES) throw bad(`the bundle exceeds ${MAX_BUNDLE_BYTES >> 20} MiB`);
    const sha = createHash('sha256').update(data).digest('hex');
    if (sha !== f.sha256) throw bad(`${f.path} does not match its sha256 (damaged in transit?)`);
    files.set(f.path, data);
  }
  for (const r of REQUIRED) if (!files.has(r)) throw bad(`the bundle lacks ${r}`);
  checkManifest(files.get('manifest.json') ?? Buffer.alloc(0), p);
  return files;
}

/** Install a signed, checked bundle over `installDir` (the directory holding the running agent.js). */
export function installBundle(p: AgentUpdateParams, installDir: string, log: AgentLog): AgentUpdateResult {
  const signer = verifyBundleSignature(p, installDir);
  const files = checkBundle(p);
  const parent = dirname(installDir);
  const staging = join(parent, `.update-${process.pid}`);
  const old = join(parent, `.old-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
  try {
    for (const [path, data] of files) {
      mkdirSync(dirname(join(staging, path)), { recursive: true, mode: 0o755 });
      writeFileSync(join(staging, path), data, { mode: 0o644 });
    }
    renameSync(installDir, old);
    try {
      renameSync(staging, installDir);
    } catch (err) {
      renameSync(old, installDir); // put the working agent back
      throw err;
    }
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw new AgentError(
      ErrorCode.Internal,
      `agent/update: installing into ${installDir} failed: ${(err as Error).message}`,
    );
  }
  rmSync(old, { recursive: true, force: true });
  log.info('agent', `updated the agent in ${installDir}: ${AGENT_VERSION} → ${p.version} (signed by ${signer})`);
  return { installed: p.version, previous: AGENT_VERSION };
}
