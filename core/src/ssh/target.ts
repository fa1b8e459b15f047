/**
 * Which node to talk to, and how: turns a node spec (setting `dfsEbpf.node` or CLI `--node`)
 * into an SSH target. Specs: empty → the local test node `dfsnode0`; `local:NAME` or the name
 * of an existing local node → that node (its own key, known_hosts and agent path);
 * `user@host[:port]`; otherwise a `Host` alias of ~/.ssh/config. It is also the one place that
 * decides whether a node runs on this machine's kernel (kernelIsLocal).
 */

import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import SSHConfig from 'ssh-config';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import { REMOTE } from '../install/layout';
import { readLocalNode } from '../testnode';
import { clientNodeNames } from '../testnode/clientState';

export const DEFAULT_LOCAL_NODE = 'dfsnode0';
/** Where `dfs-ebpf node install` puts the agent's wrapper (core/src/install/layout.ts). */
export const DEFAULT_AGENT_COMMAND = REMOTE.wrapper;

export interface NodeTarget {
  /** How the user named it, for messages. */
  label: string;
  host: string;
  port: number;
  user: string;
  /** Private key file; absent → ssh-agent only. */
  identityFile?: string;
  knownHostsFile: string;
  agentCommand: string;
  /** Set for a local test node: its name. */
  localNode?: string;
}

export interface TargetOverrides {
  knownHostsFile?: string;
  identityFile?: string;
  agentCommand?: string;
}

export interface TargetEnv {
  home: string;
  sshConfigText: () => string;
}

export const defaultTargetEnv: TargetEnv = {
  home: homedir(),
  sshConfigText: () => {
    try {
      return readFileSync(join(homedir(), '.ssh', 'config'), 'utf8');
    } catch {
      return '';
    }
  },
};

function expandHome(p: string, home: string): string {
  return p.startsWith('~/') ? join(home, p.slice(2)) : p;
}

function localTarget(name: string, o: TargetOverrides): NodeTarget {
  const node = readLocalNode(name);
  if (!node) {
    throw new DfsError(
      ErrorCode.NodeNotUp,
      `the local test node ${name} is not up; run \`dfs-ebpf node up${name === DEFAULT_LOCAL_NODE ? '' : ` --name ${name}`}\``,
    );
  }
  return {
    label: name,
    host: node.host,
    port: node.port,
    user: node.user,
    identityFile: o.identityFile || node.identityFile,
    knownHostsFile: o.knownHostsFile || node.knownHostsFile,
    agentCommand: o.agentCommand || node.agentCommand,
    localNode: name,
  };
}

function firstString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return undefined;
}

/**
 * The local test node a spec names, or null when it names a node reached over SSH: empty → the
 * default local node; `local:NAME` → NAME; a bare name → that local node only when one of that
 * name exists (else it is a host or an ~/.ssh/config alias).
 */
export function localNodeName(spec: string | undefined): string | null {
  const s = (spec ?? '').trim();
  if (s === '') return DEFAULT_LOCAL_NODE;
  if (s.startsWith('local:')) return s.slice('local:'.length);
  if (/^[a-z][a-z0-9]{0,11}$/.test(s) && readLocalNode(s)) return s;
  return null;
}

/**
 * Whether the node a spec names runs on this machine's kernel, so a build for it may use this
 * machine's BTF without connecting: a local test node is a network namespace of this kernel.
 * Anything reached over SSH (user@host, an ~/.ssh/config alias) has its own kernel.
 */
export function kernelIsLocal(spec: string | undefined): boolean {
  return localNodeName(spec) !== null;
}

export function resolveTarget(
  spec: string | undefined,
  o: TargetOverrides = {},
  env: TargetEnv = defaultTargetEnv,
): NodeTarget {
  const s = (spec ?? '').trim();
  const local = localNodeName(s);
  if (local !== null) return localTarget(local, o);

  const m = /^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s]+)(?::(\d+))?$/.exec(s);
  if (!m)
    throw new DfsError(
      ErrorCode.BadRequest,
      `cannot read node "${s}": expected NAME, user@host[:port] or an ~/.ssh/config Host`,
    );
  const alias = (m[2] ?? '').replace(/^\[|\]$/g, '');
  const computed = SSHConfig.parse(env.sshConfigText()).compute(alias) as Record<string, unknown>;
  const host = firstString(computed.HostName) ?? alias;
  const portText = m[3] ?? firstString(computed.Port);
  const port = portText ? Number(portText) : 22;
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new DfsError(ErrorCode.BadRequest, `bad port in node "${s}"`);
  const identity = o.identityFile || firstString(computed.IdentityFile);
  const knownHosts = o.knownHostsFile || firstString(computed.UserKnownHostsFile)?.split(/\s+/)[0];
  const target: NodeTarget = {
    label: s,
    host,
    port,
    user: m[1] ?? firstString(computed.User) ?? userInfo().username,
    knownHostsFile: expandHome(knownHosts || '~/.ssh/known_hosts', env.home),
    agentCommand: o.agentCommand || DEFAULT_AGENT_COMMAND,
  };
  if (identity) target.identityFile = expandHome(identity, env.home);
  return target;
}

/**
 * The nodes a `--node` value names: one spec, a comma-separated list, or `all` (every local
 * test node this user has, plus `extra`, e.g. the extension's `dfsEbpf.nodes`). Deduplicated,
 * in the order given; `all` sorts the local nodes by name.
 */
export function nodeSpecList(spec: string | undefined, extra: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const part of (spec ?? '').split(',').map((s) => s.trim())) {
    if (part === 'all') {
      for (const n of clientNodeNames().sort()) if (readLocalNode(n)) out.push(n);
      out.push(...extra);
    } else if (part !== '') out.push(part);
  }
  if (out.length === 0 && (spec ?? '').trim() === 'all') {
    throw new DfsError(
      ErrorCode.NodeNotUp,
      'no local test node is up (`dfs-ebpf node up`), and no other node is configured',
    );
  }
  return [...new Set(out)];
}

/** Whether a `--node` value names several nodes (a list or `all`): results are then per node. */
export function namesSeveral(spec: string | undefined): boolean {
  const s = (spec ?? '').trim();
  return s === 'all' || s.includes(',');
}

/** `user@host:port`, as `node status` and messages print it. */
export function targetAddress(t: NodeTarget): string {
  return `${t.user}@${t.host}:${t.port}`;
}
