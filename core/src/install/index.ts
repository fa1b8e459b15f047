/**
 * `dfs-ebpf node install|uninstall` and "Install agent on node…": the agent put on (or taken
 * off) a node over SSH only, as its user with sudo. The order is what keeps a node as it was
 * when anything is wrong: the host key is checked before authentication (SshConnection); the
 * node is probed without root and without writing (probe.ts) and refused with every reason at
 * once; sudo is checked (a password, when sudo wants one, is asked through `askPassword`, sent
 * on sudo's stdin and nowhere else, never stored or logged); the payload (payload.ts) goes to a
 * private upload directory of the user and is removed whatever happens; the root script
 * (scripts.ts) installs it all-or-nothing. Then the agent is started through the sudo rule the
 * install wrote, exactly as every later connection will, and its own report is returned.
 */

import { createReadStream } from 'node:fs';
import { ErrorCode, type InitializeResult } from '@dfs/protocol';
import { NodeSession } from '../agent/session';
import { ensureUpdateKey } from '../agent/signing';
import { agentWrapperScript, sudoersRule } from '../agent/wrapper';
import { DfsError } from '../errors';
import type { Logger, Progress } from '../log';
import { SshConnection, shellQuote } from '../ssh/connection';
import { localNodeName, resolveTarget, targetAddress, type NodeTarget, type TargetOverrides } from '../ssh/target';
import { REMOTE, sudoersFileFor } from './layout';
import { buildPayload, type Payload } from './payload';
import { assessNode, parseFacts, PROBE_SCRIPT, type InstalledRecord } from './probe';
import { INSTALL_SCRIPT, UNINSTALL_SCRIPT } from './scripts';

export { NODE_RUNTIME } from './layout';

export interface InstallOptions {
  /** dist/agent of this client. */
  bundleDir: string;
  log: Logger;
  progress?: Progress;
  overrides?: TargetOverrides;
  /** Asked when sudo on the node wants the SSH user's password; undefined cancels. */
  askPassword?: (prompt: string) => Promise<string | undefined>;
  askPassphrase?: (keyFile: string) => Promise<string | undefined>;
  clientName?: string;
}

export interface InstallResult {
  node: string;
  /** user@host:port */
  ssh: string;
  result: 'installed' | 'unchanged';
  previous: InstalledRecord | null;
  installed: InstalledRecord;
  payload: { bytes: number; unpacked_bytes: number; sha256: string };
  /** What the agent reported when started through the new sudo rule. */
  agent: {
    version: string;
    build: string;
    runtime: InitializeResult['runtime'];
    libbpf: string;
    kernel: string;
    missing_features: string[];
  };
  notes: string[];
}

export interface UninstallResult {
  node: string;
  ssh: string;
  result: 'removed' | 'absent';
  /** Agent processes that were serving and were stopped. */
  stopped: number[];
}

function remoteTarget(spec: string, overrides: TargetOverrides | undefined): NodeTarget {
  if (localNodeName(spec) !== null) {
    throw new DfsError(
      ErrorCode.BadRequest,
      `${spec} is a local test node: \`dfs-ebpf node up\` installs its agent; node install is for nodes reached over SSH (user@host[:port] or an ~/.ssh/config Host)`,
    );
  }
  return resolveTarget(spec, overrides ?? {});
}

/** `sudo -S` with the password line on stdin when there is one (never on the command line). */
function sudo(password: string | null, argv: string): string {
  return password === null ? `sudo -n -- ${argv}` : `sudo -S -p '' -- ${argv}`;
}

/**
 * Whether sudo needs a password, asking it when it does and checking it once: returns the
 * password (null: sudo needs none). A refusal says why, in sudo's words.
 */
async function sudoAccess(conn: SshConnection, t: NodeTarget, opts: InstallOptions): Promise<string | null> {
  const where = `${t.user} on ${t.host}`;
  const free = await conn.run('sudo -n true', 15_000);
  if (free.code === 0) return null;
  const why = free.stderr.trim().split('\n').pop() ?? '';
  if (/command not found|not found/.test(why))
    throw new DfsError(ErrorCode.ToolMissing, `sudo is not installed on ${t.host}`);
  if (!/password is required/.test(why))
    throw new DfsError(ErrorCode.PermissionDenied, `sudo refuses ${where}: ${why}`);
  if (!opts.askPassword) {
    throw new DfsError(
      ErrorCode.PermissionDenied,
      `sudo on ${t.host} asks ${t.user} for a password and none can be asked here`,
    );
  }
  const password = await opts.askPassword(`sudo password for ${where}`);
  if (password === undefined) throw new DfsError(ErrorCode.Cancelled, 'install cancelled: no sudo password given');
  const check = await conn.run(sudo(password, 'true'), 30_000, `${password}\n`);
  if (check.code !== 0) {
    const said = check.stderr.replace(/\[sudo\][^\n]*/g, '').trim();
    throw new DfsError(
      ErrorCode.PermissionDenied,
      /incorrect password|try again|no password was provided/i.test(said)
        ? `sudo on ${t.host} refused the password for ${t.user}`
        : `sudo refuses ${where}: ${said.split('\n').pop() ?? `exit ${check.code}`}`,
    );
  }
  return password;
}

/** Streams the payload into a new private directory of the user; returns the directory. */
async function upload(conn: SshConnection, payload: Payload, progress: Progress): Promise<string> {
  const made = await conn.run('mktemp -d /tmp/dfs-ebpf-upload.XXXXXX');
  const dir = made.stdout.trim();
  if (made.code !== 0 || !dir.startsWith('/tmp/dfs-ebpf-upload.'))
    throw new DfsError(ErrorCode.Internal, `cannot make an upload directory on the node: ${made.stderr.trim()}`);
  const { channel, exited } = await conn.exec(`cat > ${shellQuote(`${dir}/payload.tgz`)}`);
  const stderr: Buffer[] = [];
  channel.stderr.on('data', (d: Buffer) => stderr.push(d));
  // The channel closes only once its stdout is read to the end too (cat writes nothing).
  channel.resume();
  let sent = 0;
  let told = 0;
  const src = createReadStream(payload.file);
  src.on('data', (chunk) => {
    sent += chunk.length;
    if (sent - told >= 8 << 20 || sent === payload.bytes) {
      told = sent;
      progress(
        `uploading the agent: ${(sent / (1 << 20)).toFixed(0)} of ${(payload.bytes / (1 << 20)).toFixed(0)} MiB`,
      );
    }
  });
  src.pipe(channel);
  const code = await exited;
  if (code !== 0) {
    const why = Buffer.concat(stderr).toString('utf8').trim().split('\n').pop() ?? `exit ${code}`;
    await conn.run(`rm -rf ${shellQuote(dir)}`).catch(() => undefined);
    throw new DfsError(ErrorCode.Internal, `uploading the agent to ${dir} on the node failed: ${why}`);
  }
  return dir;
}

function lastResult(stdout: string): string {
  return /^result=(\w+)$/m.exec(stdout.trim().split('\n').pop() ?? '')?.[1] ?? '';
}

function scriptError(what: string, res: { code: number | null; stderr: string }): DfsError {
  const lines = res.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('[sudo]'));
  const ours = lines.filter((l) => l.startsWith('dfs-ebpf-')).pop();
  const why = (ours ?? lines.pop() ?? `exit ${res.code}`).replace(/^dfs-ebpf-(un)?install: /, '');
  return new DfsError(ErrorCode.Internal, `${what}: ${why}`, res.stderr);
}

/** Installs (or upgrades in place) the agent on a node; a second run on the same build changes nothing. */
export async function installAgent(spec: string, opts: InstallOptions): Promise<InstallResult> {
  const progress = opts.progress ?? (() => undefined);
  const t = remoteTarget(spec, opts.overrides);
  const payload = await buildPayload(opts.bundleDir, { progress });
  progress(`connecting to ${targetAddress(t)}`);
  const conn = await SshConnection.connect(t, {
    log: opts.log,
    ...(opts.askPassphrase ? { askPassphrase: opts.askPassphrase } : {}),
  });
  let result: 'installed' | 'unchanged';
  let previous: InstalledRecord | null;
  let notes: string[];
  try {
    progress('checking the node');
    const probed = await conn.run(`sh -c ${shellQuote(PROBE_SCRIPT)}`, 30_000);
    if (probed.code !== 0) throw new DfsError(ErrorCode.Internal, `probing ${t.host} failed: ${probed.stderr.trim()}`);
    const facts = parseFacts(probed.stdout);
    const verdict = assessNode(facts, payload.info.unpackedBytes);
    if (verdict.problems.length > 0) {
      throw new DfsError(
        verdict.problems.some((p) => p.startsWith('the kernel'))
          ? ErrorCode.KernelFeatureMissing
          : ErrorCode.ToolMissing,
        `cannot install the agent on ${t.host}, nothing was changed: ${verdict.problems.join('; ')}`,
      );
    }
    previous = verdict.installed;
    notes = verdict.notes;
    const password = await sudoAccess(conn, t, opts);
    const key = ensureUpdateKey();
    const record: InstalledRecord = {
      version: payload.info.version,
      build: payload.info.build,
      runtime: payload.info.runtime,
    };
    /** The root script with the payload in `dir` ('': only check whether it is all in place). */
    const install = async (dir: string): Promise<string> => {
      const args = [
        dir,
        payload.sha256,
        sudoersFileFor(t.user),
        sudoersRule(t.user, REMOTE.wrapper),
        agentWrapperScript(REMOTE.node, `${REMOTE.agent}/agent.js`, 'dfs-ebpf node install'),
        key.line,
        JSON.stringify(record),
      ];
      const cmd = sudo(
        password,
        `sh -c ${shellQuote(INSTALL_SCRIPT)} dfs-ebpf-install ${args.map(shellQuote).join(' ')}`,
      );
      const res = await conn.run(cmd, 300_000, password === null ? undefined : `${password}\n`);
      const said = lastResult(res.stdout);
      const expected = dir === '' ? ['unchanged', 'needed'] : ['installed', 'unchanged'];
      if (res.code !== 0 || !expected.includes(said))
        throw scriptError(`installing the agent on ${t.host} failed, the node is as it was`, res);
      return said;
    };
    const same =
      previous?.version === record.version && previous.build === record.build && previous.runtime === record.runtime;
    let said = '';
    if (same) {
      progress('checking the installed agent');
      said = await install('');
    }
    if (said !== 'unchanged') {
      const dir = await upload(conn, payload, progress);
      try {
        progress(previous ? `installing over ${previous.version} (build ${previous.build})` : 'installing the agent');
        said = await install(dir);
      } finally {
        await conn.run(`rm -rf ${shellQuote(dir)}`).catch(() => undefined);
      }
    }
    result = said === 'unchanged' ? 'unchanged' : 'installed';
  } finally {
    conn.close();
  }

  progress('starting the installed agent through its sudo rule');
  const session = await NodeSession.open(t, { log: opts.log, clientName: opts.clientName ?? 'dfs-ebpf node install' });
  try {
    const info = session.info;
    if (info.agentVersion !== payload.info.version || (payload.info.build && info.agentBuild !== payload.info.build)) {
      throw new DfsError(
        ErrorCode.AgentVersionMismatch,
        `the agent on ${t.host} reports ${info.agentVersion} (build ${info.agentBuild}) after installing ${payload.info.version} (build ${payload.info.build})`,
      );
    }
    return {
      node: t.label,
      ssh: targetAddress(t),
      result,
      previous,
      installed: { version: info.agentVersion, build: info.agentBuild, runtime: payload.info.runtime },
      payload: { bytes: payload.bytes, unpacked_bytes: payload.info.unpackedBytes, sha256: payload.sha256 },
      agent: {
        version: info.agentVersion,
        build: info.agentBuild,
        runtime: info.runtime,
        libbpf: info.libbpfVersion,
        kernel: `${info.kernel.release} ${info.kernel.machine}`,
        missing_features: info.features.filter((f) => !f.supported).map((f) => f.name),
      },
      notes,
    };
  } finally {
    session.close();
  }
}

/** Removes every file, sudo rule, process and pinned bypass of ours from a node. */
export async function uninstallAgent(spec: string, opts: Omit<InstallOptions, 'bundleDir'>): Promise<UninstallResult> {
  const progress = opts.progress ?? (() => undefined);
  const t = remoteTarget(spec, opts.overrides);
  progress(`connecting to ${targetAddress(t)}`);
  const conn = await SshConnection.connect(t, {
    log: opts.log,
    ...(opts.askPassphrase ? { askPassphrase: opts.askPassphrase } : {}),
  });
  try {
    const password = await sudoAccess(conn, t, { ...opts, bundleDir: '' });
    progress('removing the agent');
    const cmd = sudo(
      password,
      `sh -c ${shellQuote(UNINSTALL_SCRIPT)} dfs-ebpf-uninstall ${shellQuote(sudoersFileFor(t.user))}`,
    );
    const res = await conn.run(cmd, 120_000, password === null ? undefined : `${password}\n`);
    const said = lastResult(res.stdout);
    if (res.code !== 0 || (said !== 'removed' && said !== 'absent'))
      throw scriptError(`removing the agent from ${t.host} failed`, res);
    const stopped = (/^stopping=(.*)$/m.exec(res.stdout)?.[1] ?? '')
      .split(' ')
      .filter((p) => p !== '')
      .map(Number);
    return { node: t.label, ssh: targetAddress(t), result: said, stopped };
  } finally {
    conn.close();
  }
}
