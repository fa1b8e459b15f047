/**
 * The agent on a local node and its sudo rule. Owns: finding the agent bundle (dist/agent:
 * agent.js, dfs_bpf.node, bpf/*.o, manifest.json), copying it root-owned into
 * <node>/agent/lib (again whenever the bundle's manifest version changes), the pinned update
 * key <node>/agent/update-keys (this client's key, root-owned 0644, outside the install
 * directory so that `agent/update` can never replace it), the wrapper
 * <node>/agent/bin/dfs-ebpf-agent that runs it with a root-trusted Node binary, and
 * /etc/sudoers.d/dfs-ebpf-<name>, which lets the node user run exactly `<wrapper> --stdio`.
 */

import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { ErrorCode, UPDATE_KEYS_FILE } from '@dfs/protocol';
import { ensureUpdateKey } from '../agent/signing';
import { agentWrapperScript, sudoersRule } from '../agent/wrapper';
import { DfsError } from '../errors';
import type { ComponentCheck } from './netns';
import { BIN, type NodePaths } from './paths';
import { ensureDir, type NodeCtx, readIfExists, removeTree, run, writeIfChanged } from './sys';

/** The bundle next to the running code: dist/agent of the package (repo or .vsix) this code runs from. */
export function defaultAgentBundleDir(): string {
  for (let d = __dirname; ; d = dirname(d)) {
    const candidate = join(d, 'dist', 'agent');
    if (existsSync(join(candidate, 'manifest.json'))) return candidate;
    // The package root (repo checkout or installed extension): its dist/agent, built or not.
    if (existsSync(join(d, 'package.json'))) return candidate;
    if (dirname(d) === d) return join(__dirname, '..', 'agent');
  }
}

export function readManifestVersion(dir: string): string | undefined {
  const text = readIfExists(join(dir, 'manifest.json'));
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new DfsError(
      ErrorCode.Internal,
      `${dir}/manifest.json is not JSON (${e instanceof Error ? e.message : String(e)}); run \`npm run build\``,
    );
  }
  const v = (parsed as { version?: unknown }).version;
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Checks the bundle before anything is created, so a missing build fails first and cleanly. */
export function checkBundle(bundleDir: string): string {
  const version = existsSync(join(bundleDir, 'agent.js')) ? readManifestVersion(bundleDir) : undefined;
  if (version === undefined) {
    throw new DfsError(
      ErrorCode.ToolMissing,
      `the agent bundle is missing in ${bundleDir} (agent.js and manifest.json with a version); run \`npm run build\` first`,
    );
  }
  return version;
}

/** Installs or updates the agent; returns the installed version. */
export function ensureAgent(ctx: NodeCtx, p: NodePaths, bundleDir: string): string {
  const wanted = checkBundle(bundleDir);
  ensureDir(p.agentDir, 0o755);
  ensureDir(p.agentBin, 0o755);
  const installed = existsSync(join(p.agentLib, 'agent.js')) ? readManifestVersion(p.agentLib) : undefined;
  // Development builds keep their version, so a changed bundle content also triggers a reinstall.
  const digest = treeDigest(bundleDir);
  const digestFile = join(p.agentDir, 'bundle.sha256');
  if (installed !== wanted || readIfExists(digestFile) !== `${digest}\n`) {
    ctx.progress(
      installed === undefined
        ? `installing the agent ${wanted}`
        : installed === wanted
          ? `reinstalling the agent ${wanted} (the bundle changed)`
          : `updating the agent ${installed} -> ${wanted}`,
    );
    const staging = `${p.agentLib}.new`;
    removeTree(ctx, staging);
    cpSync(bundleDir, staging, { recursive: true, dereference: true });
    rootOwnNotWritable(staging);
    const old = `${p.agentLib}.old`;
    removeTree(ctx, old);
    if (existsSync(p.agentLib)) renameSync(p.agentLib, old);
    renameSync(staging, p.agentLib);
    removeTree(ctx, old);
    writeIfChanged(digestFile, `${digest}\n`, { mode: 0o644, uid: 0, gid: 0 });
  }
  pinUpdateKey(ctx, p);
  const node = trustedNode(ctx, p);
  const wrapper = agentWrapperScript(node, join(p.agentLib, 'agent.js'), 'dfs-ebpf node up');
  writeIfChanged(p.agentWrapper, wrapper, { mode: 0o755, uid: 0, gid: 0 });
  return wanted;
}

/** Where a local node pins the update keys its agent trusts (beside agent/lib, never inside). */
export function updateKeysFile(p: NodePaths): string {
  return join(dirname(p.agentLib), UPDATE_KEYS_FILE);
}

/**
 * Pin this client's update key (made now if it has none) as the one key the node's agent
 * trusts for `agent/update`. Written by root, 0644, in the root-owned agent directory.
 */
function pinUpdateKey(ctx: NodeCtx, p: NodePaths): void {
  const key = ensureUpdateKey();
  if (writeIfChanged(updateKeysFile(p), `${key.line}\n`, { mode: 0o644, uid: 0, gid: 0 })) {
    ctx.progress(`pinning the client's update key ${key.fingerprint}`);
  }
}

/**
 * sudo runs the wrapper as root and the wrapper runs Node: that Node (and every directory
 * above it) must be root-owned and not writable by group or others, or the node user could
 * swap it. Otherwise (e.g. a Node under a user's home) a copy goes into agent/bin/node.
 */
function trustedNode(ctx: NodeCtx, p: NodePaths): string {
  const real = realpathSync(process.execPath);
  if (rootTrusted(real)) {
    const copy = join(p.agentBin, 'node');
    if (existsSync(copy)) unlinkSync(copy);
    return real;
  }
  const copy = join(p.agentBin, 'node');
  const src = statSync(real);
  const cur = existsSync(copy) ? statSync(copy) : undefined;
  if (!cur || cur.size !== src.size || Math.floor(cur.mtimeMs) !== Math.floor(src.mtimeMs)) {
    ctx.progress('copying the Node runtime for the agent');
    cpSync(real, `${copy}.tmp`, { preserveTimestamps: true });
    chownSync(`${copy}.tmp`, 0, 0);
    chmodSync(`${copy}.tmp`, 0o755);
    renameSync(`${copy}.tmp`, copy);
  }
  return copy;
}

/** sha256 over the relative paths and contents of every file under `root`, in sorted order. */
function treeDigest(root: string): string {
  const h = createHash('sha256');
  const walk = (rel: string): void => {
    const abs = join(root, rel);
    const st = statSync(abs);
    if (st.isDirectory()) {
      for (const e of readdirSync(abs).sort()) walk(rel ? join(rel, e) : e);
      return;
    }
    h.update(`${rel}\0${st.size}\0`);
    h.update(readFileSync(abs));
  };
  walk('');
  return h.digest('hex');
}

function rootTrusted(path: string): boolean {
  for (let d = path; ; d = dirname(d)) {
    const st = statSync(d);
    if (st.uid !== 0 || (st.mode & 0o022) !== 0) return false;
    if (dirname(d) === d) return true;
  }
}

function rootOwnNotWritable(path: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return;
  chownSync(path, 0, 0);
  chmodSync(path, st.isDirectory() ? 0o755 : (st.mode & 0o111) !== 0 ? 0o755 : 0o644);
  if (st.isDirectory()) for (const e of readdirSync(path)) rootOwnNotWritable(join(path, e));
}

export function agentStatus(p: NodePaths): ComponentCheck {
  const version = existsSync(join(p.agentLib, 'agent.js')) ? readManifestVersion(p.agentLib) : undefined;
  if (version === undefined) return { ok: false, detail: `not installed in ${p.agentLib}` };
  if (!existsSync(p.agentWrapper)) return { ok: false, detail: `version ${version}, but ${p.agentWrapper} is missing` };
  if (!existsSync(updateKeysFile(p)))
    return { ok: false, detail: `version ${version}, but no update key is pinned in ${updateKeysFile(p)}` };
  if (!existsSync(p.sudoersFile))
    return { ok: false, detail: `version ${version}, but the sudo rule ${p.sudoersFile} is missing` };
  // The rule is 0440 root: without root its presence is all we can see.
  if (process.getuid?.() === 0 && readFileSync(p.sudoersFile, 'utf8') !== sudoersText(p)) {
    return {
      ok: false,
      detail: `version ${version}, but the sudo rule ${p.sudoersFile} differs from \`${sudoersText(p).trim()}\``,
    };
  }
  return { ok: true, detail: `version ${version}, run as \`sudo -n ${p.agentWrapper} --stdio\`` };
}

// ---------------------------------------------------------------------------------------------
// sudo

export function sudoersText(p: NodePaths): string {
  return sudoersRule(p.user, p.agentWrapper);
}

export async function ensureSudoers(ctx: NodeCtx, p: NodePaths): Promise<void> {
  const text = sudoersText(p);
  const st = existsSync(p.sudoersFile) ? statSync(p.sudoersFile) : undefined;
  if (st && (st.mode & 0o7777) === 0o440 && st.uid === 0 && readFileSync(p.sudoersFile, 'utf8') === text) return;
  ctx.progress('writing the sudo rule for the agent');
  // sudo ignores files in sudoers.d whose name contains a '.', so the staging file is inert.
  const tmp = join(dirname(p.sudoersFile), `.dfs-ebpf-${p.name}.tmp`);
  writeIfChanged(tmp, text, { mode: 0o440, uid: 0, gid: 0 });
  try {
    await run(ctx, BIN.visudo, ['-c', '-q', '-f', tmp]);
  } catch (e) {
    unlinkSync(tmp);
    throw new DfsError(
      ErrorCode.Internal,
      `visudo rejects the agent's sudo rule (${e instanceof Error ? e.message : String(e)}); report this bug`,
    );
  }
  renameSync(tmp, p.sudoersFile);
}

export function removeSudoers(ctx: NodeCtx, p: NodePaths): void {
  for (const f of [p.sudoersFile, join(dirname(p.sudoersFile), `.dfs-ebpf-${p.name}.tmp`)]) {
    if (existsSync(f)) {
      ctx.log.debug(`removing ${f}`);
      unlinkSync(f);
    }
  }
}
