/**
 * Every message between a client (extension or CLI) and the agent, declared once as
 * `area/verb` with its params and result. The transport is JSON-RPC 2.0 (vscode-jsonrpc)
 * over the stdio of `sudo -n dfs-ebpf-agent --stdio`, carried by an SSH exec channel.
 * Comments say who sends each message. Bump PROTOCOL_VERSION on any incompatible change.
 */

import type { BypassStatsField } from './bypass';

export const PROTOCOL_VERSION = 1;

/** A typed request: the method name plus phantom parameter and result types. */
export interface RequestSpec<P, R> {
  readonly method: string;
  readonly _types?: [P, R];
}
/** A typed notification. */
export interface NotificationSpec<P> {
  readonly method: string;
  readonly _types?: [P];
}
/** Declares a request; the area modules (verify.ts, profile.ts, ...) use it too. */
export function request<P, R>(method: string): RequestSpec<P, R> {
  return { method };
}
export function notification<P>(method: string): NotificationSpec<P> {
  return { method };
}

// ---------------------------------------------------------------------------------------------
// agent/initialize (client → agent, first request of a connection)

export interface InitializeParams {
  /** Free-form client identity for the agent's log, e.g. "vscode 1.139.1" or "cli". */
  client: string;
  protocolVersion: number;
}

/** Kernel capabilities the product relies on; probed at agent start, never assumed. */
export type KernelFeature =
  | 'btf'
  | 'cgroup_v2'
  | 'sockhash'
  | 'sock_ops'
  | 'sk_msg'
  | 'tracepoint'
  | 'raw_tp'
  | 'tp_btf'
  | 'uprobe'
  | 'ringbuf'
  | 'fentry'
  | 'kprobe';

export interface FeatureReport {
  name: KernelFeature;
  supported: boolean;
  /** Why it is missing, or how it was probed. */
  detail: string;
}

/** A JuiceFS mount whose daemon shares the agent's network namespace. */
export interface JuiceFsMount {
  mountpoint: string;
  volume: string;
  version: string;
  /** Metadata engine URL with any password removed. */
  meta: string;
  storage: string;
  /** Object store bucket URL with any password removed. */
  bucket: string;
  pid: number;
  /** cgroup v2 directory of the daemon (absolute path under the cgroup2 mount). */
  cgroup: string;
}

export interface InitializeResult {
  agentVersion: string;
  protocolVersion: number;
  /** Content digest of the agent bundle ('' for a development build without a manifest). */
  agentBuild: string;
  /** The agent's process id on the node (one agent process per connection). */
  agentPid: number;
  kernel: { release: string; machine: string };
  /** The Node runtime the agent runs on (the shipped one on an installed node). */
  runtime: { node: string; path: string };
  libbpfVersion: string;
  features: FeatureReport[];
  juicefs: JuiceFsMount[];
}

export const InitializeRequest = request<InitializeParams, InitializeResult>('agent/initialize');

// ---------------------------------------------------------------------------------------------
// agent/update (client → agent): deploy the client's agent bundle on the node.
// Valid before agent/initialize, so that any installed agent can always be brought to the
// client's version. The bundle must be signed (Ed25519) by a key whose public half is pinned,
// root-owned, in UPDATE_KEYS_FILE beside the agent's install directory; the agent verifies the
// signature before it writes anything, then checks every file (allowed name, sha256,
// architecture, manifest) and swaps its own install directory atomically. It keeps running its
// old code, so the client reconnects afterwards. Agents that predate signed updates refuse
// the `build` and `signature` fields as unknown: such a node is provisioned again (README).

export interface BundleFile {
  /** Path inside the bundle, e.g. "agent.js", "bpf/bypass.bpf.o". */
  path: string;
  sha256: string;
  /** base64 */
  data: string;
}

export interface UpdateSignature {
  /** The signer's Ed25519 public key, 32 bytes, base64: names the key in refusals. */
  publicKey: string;
  /** Ed25519 signature of updateSigningText(params), 64 bytes, base64. */
  value: string;
}

export interface AgentUpdateParams {
  /** The bundle's manifest version. */
  version: string;
  /** Node.js process.arch the bundle's native addon was built for, e.g. "x64". */
  arch: string;
  /** The bundle's content digest (manifest "build"; '' for a bundle without one). */
  build: string;
  files: BundleFile[];
  /** Absent: the agent refuses the bundle (PermissionDenied). */
  signature?: UpdateSignature;
}

/** The file, in the directory that holds the agent's install directory, pinning update keys. */
export const UPDATE_KEYS_FILE = 'update-keys';
/** First word of a key line in UPDATE_KEYS_FILE: `dfs-ebpf-update-ed25519 <base64 key> [comment]`. */
export const UPDATE_KEY_TYPE = 'dfs-ebpf-update-ed25519';

/**
 * The exact text an update signature covers: a fixed context string, the version, arch and
 * build, and every file's path and sha256 sorted by path (the data is bound by its sha256).
 */
export function updateSigningText(p: Pick<AgentUpdateParams, 'version' | 'arch' | 'build' | 'files'>): string {
  const files = p.files.map((f) => [f.path, f.sha256]).sort(([a], [b]) => ((a ?? '') < (b ?? '') ? -1 : 1));
  return JSON.stringify({
    context: 'dfs-ebpf agent/update v1',
    version: p.version,
    arch: p.arch,
    build: p.build,
    files,
  });
}

export interface AgentUpdateResult {
  installed: string;
  previous: string;
}

export const AgentUpdateRequest = request<AgentUpdateParams, AgentUpdateResult>('agent/update');

// ---------------------------------------------------------------------------------------------
// bypass/* (client → agent): the sock_ops + sk_msg socket bypass of bpf/bypass.bpf.c

export interface Endpoint {
  /** IPv4 literal. */
  host: string;
  port: number;
}

export type EndpointSource = 'meta' | 'object' | 'extra';

export interface PolicyEndpoint extends Endpoint {
  source: EndpointSource;
}

export interface BypassAttachParams {
  /**
   * The bypass object built from the user's workspace, base64-encoded ELF.
   * Absent: the agent's bundled reference build of bpf/bypass.bpf.c.
   */
  object?: string;
  /** Name to show for the object in logs and status (e.g. "bypass.bpf.o"). */
  objectName?: string;
  /** JuiceFS mount whose traffic to accelerate. Absent: the only mount in the node's netns. */
  mountpoint?: string;
  /** Endpoints to select besides the mount's metadata engine and object store. */
  extraEndpoints?: Endpoint[];
  /**
   * Keep the bypass after this connection ends, pinned in bpffs until `bypass/detach`
   * (the CLI's default, since the CLI process exits). Default false: the bypass belongs to
   * this connection and is released when it closes.
   */
  pin?: boolean;
}

/** Who holds an attached bypass. */
export type BypassOwner = 'this-connection' | 'pinned' | 'other-connection';

export type BypassCounters = Record<BypassStatsField, number>;

export interface AttachedProgram {
  id: number;
  name: string;
  /** "sock_ops" or "sk_msg". */
  type: string;
  /** Kernel link id when the attachment is an fd-based link, else null. */
  linkId: number | null;
}

export interface BypassStatus {
  attached: boolean;
  /** null when detached. `other-connection`: attached by another live client; counters still read. */
  owner: BypassOwner | null;
  objectName: string | null;
  mountpoint: string | null;
  cgroup: string | null;
  endpoints: PolicyEndpoint[];
  programs: AttachedProgram[];
  counters: BypassCounters;
  /** Connections that existed before the attach and were handed to the bypass by the agent. */
  adoptedSockets: number;
  /**
   * Connections that existed before the attach, to a selected endpoint, whose peer is on
   * another host (a fleet member and node 0's services): left out, since nothing can be
   * redirected to a remote peer. New ones are counted in counters.sockets_skipped.
   */
  remoteLeftAtAttach: number;
  /** ISO time of the attach, null when detached. */
  attachedAt: string | null;
}

export const BypassAttachRequest = request<BypassAttachParams, BypassStatus>('bypass/attach');
export const BypassDetachRequest = request<Record<string, never>, BypassStatus>('bypass/detach');
export const BypassStatusRequest = request<Record<string, never>, BypassStatus>('bypass/status');

// ---------------------------------------------------------------------------------------------
// agent/log (agent → client notification): the agent's JSON-lines log, forwarded.

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface LogEntry {
  ts: string;
  level: LogLevel;
  tag: string;
  opId?: number;
  msg: string;
}

export const LogNotification = notification<LogEntry>('agent/log');
