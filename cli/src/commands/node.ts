/**
 * `dfs-ebpf node up|down|status [--name NAME]`: the local JuiceFS test node (DESIGN.md §4, §7);
 * `node up --count N [--name PREFIX]`: a fleet PREFIX0 … mounting one volume (core/src/testnode/fleet.ts);
 * `node down|status --all [--name PREFIX]`: every local node, or that one fleet, as `{"nodes":[…]}`;
 * `node install|uninstall TARGET`: the agent on a node reached over SSH (core/src/install).
 */

import {
  fleetUp,
  type LocalNode,
  type LocalNodeFleet,
  type LocalNodeStatus,
  MAX_FLEET_SIZE,
  nodeDown,
  nodesDownAll,
  nodeStatus,
  nodesStatusAll,
  nodeUp,
} from '@dfs/core/testnode';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '@dfs/core/errors';
import { numberValue, UsageError, value, type Parsed } from '../args';
import { printJson, printLines, stderrLogger, stderrProgress, type Io } from '../output';
import { installAgent, uninstallAgent } from '@dfs/core/install';
import { agentBundleDir } from '../paths';
import { askSecretOnTty, firstStdinLine } from '../prompt';

/** The contract shape of `node status --json`. */
function nodeDoc(n: LocalNode): Record<string, unknown> {
  return {
    name: n.name,
    ssh: `${n.user}@${n.host}:${n.port}`,
    juicefs: { mountpoint: n.mountpoint, version: n.juicefsVersion, meta: n.meta, bucket: n.bucket, volume: n.volume },
    agent: { version: n.agentVersion, command: n.agentCommand },
    cgroup: n.cgroup,
    identityFile: n.identityFile,
    knownHostsFile: n.knownHostsFile,
    ...(n.fleet ? { fleet: { role: n.fleet.role, node0: n.fleet.node0, address: n.fleet.address } } : {}),
  };
}

/** What `node status --json` prints for one node, up or not. */
function statusDoc(name: string, st: LocalNodeStatus): Record<string, unknown> {
  return st.up && st.node
    ? { ...nodeDoc(st.node), up: true, components: st.components }
    : { name, up: false, components: st.components };
}

const brokenParts = (st: LocalNodeStatus): string[] =>
  st.components.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);

const fleetRoleText = (f: LocalNodeFleet): string =>
  `${f.role === 'node0' ? 'node 0' : 'member'} of ${f.node0}'s fleet`;

function upLines(n: LocalNode): string[] {
  const role = n.fleet ? ` (${fleetRoleText(n.fleet)}, ${n.fleet.address})` : '';
  return [
    `test node ${n.name} is up${role}`,
    `  ssh      ${n.user}@${n.host}:${n.port} (key ${n.identityFile})`,
    `  juicefs  ${n.mountpoint} (JuiceFS ${n.juicefsVersion}, meta ${n.meta}, objects ${n.bucket})`,
    `  agent    ${n.agentVersion}`,
  ];
}

export interface NodeArgs {
  verb: string | undefined;
  /** A node name; with --count or --all, the fleet's prefix. */
  name: string | undefined;
  /** --count N: a fleet (up only). */
  count: number | undefined;
  /** --all (down and status only). */
  all: boolean;
}

/** The `node` verbs' options, with the combinations that make no sense refused. */
export function parseNodeArgs(p: Parsed): NodeArgs {
  const verb = p.positionals[1];
  const count = numberValue(p, 'count', 2, MAX_FLEET_SIZE);
  if (count !== undefined && !Number.isInteger(count))
    throw new UsageError(`--count must be a whole number in 2..${MAX_FLEET_SIZE}`);
  const all = p.flags.has('all');
  if (count !== undefined && verb !== 'up') throw new UsageError('--count goes with `node up` only');
  if (all && verb !== 'down' && verb !== 'status')
    throw new UsageError('--all goes with `node down` and `node status`');
  return { verb, name: value(p, 'name'), count, all };
}

export async function nodeCommand(p: Parsed, io: Io): Promise<number> {
  const { verb, name, count, all } = parseNodeArgs(p);
  const common = { log: stderrLogger(io), progress: stderrProgress(io), ...(name ? { name } : {}) };
  const fleetish = { log: common.log, progress: common.progress, ...(name ? { prefix: name } : {}) };
  switch (verb) {
    case 'up': {
      if (count !== undefined) {
        const nodes = await fleetUp({ ...fleetish, count, agentBundleDir: agentBundleDir() });
        if (io.json) printJson({ nodes: nodes.map(nodeDoc) });
        else printLines(nodes.flatMap(upLines));
        return 0;
      }
      const n = await nodeUp({ ...common, agentBundleDir: agentBundleDir() });
      if (io.json) printJson(nodeDoc(n));
      else printLines(upLines(n));
      return 0;
    }
    case 'down':
      if (all) return downAll(fleetish, io);
      await nodeDown(common);
      if (io.json) printJson({ name: name ?? 'dfsnode0', up: false });
      else printLines([`test node ${name ?? 'dfsnode0'} is down`]);
      return 0;
    case 'status': {
      if (all) return statusAll(fleetish, io);
      const st = await nodeStatus(common);
      if (!st.up || !st.node) {
        const broken = brokenParts(st);
        if (io.json) printJson(statusDoc(st.name, st));
        throw new DfsError(
          ErrorCode.NodeNotUp,
          `test node ${name ?? 'dfsnode0'} is not up${broken.length ? ` (${broken.join('; ')})` : ''}; run \`dfs-ebpf node up\``,
        );
      }
      if (io.json) printJson(statusDoc(st.node.name, st));
      else
        printLines([
          `test node ${st.node.name} is up`,
          ...st.components.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`),
        ]);
      return 0;
    }
    case 'install':
    case 'uninstall': {
      const target = p.positionals[2];
      if (!target || p.positionals.length > 3)
        throw new UsageError(`usage: dfs-ebpf node ${verb} user@host[:port]|ALIAS [--sudo-password-stdin] [--json]`);
      const fromStdin = p.flags.has('sudo-password-stdin');
      const opts = {
        log: common.log,
        progress: common.progress,
        askPassword: (prompt: string) => (fromStdin ? firstStdinLine() : askSecretOnTty(prompt)),
      };
      if (verb === 'uninstall') {
        const r = await uninstallAgent(target, opts);
        if (io.json) printJson(r);
        else
          printLines([
            r.result === 'absent'
              ? `nothing of ours on ${r.ssh}`
              : `removed the agent from ${r.ssh}${r.stopped.length ? ` (stopped ${r.stopped.length} running agent${r.stopped.length === 1 ? '' : 's'})` : ''}`,
          ]);
        return 0;
      }
      const r = await installAgent(target, { ...opts, bundleDir: agentBundleDir() });
      if (io.json) printJson(r);
      else
        printLines([
          r.result === 'unchanged'
            ? `the agent ${r.installed.version} (build ${r.installed.build}) is already installed on ${r.ssh}; nothing changed`
            : `installed the agent ${r.installed.version} (build ${r.installed.build}) on ${r.ssh}${r.previous ? `, replacing ${r.previous.version} (build ${r.previous.build})` : ''}`,
          `  runtime  Node ${r.agent.runtime.node} (${r.agent.runtime.path}), libbpf ${r.agent.libbpf}`,
          `  kernel   ${r.agent.kernel}${r.agent.missing_features.length ? `; missing: ${r.agent.missing_features.join(', ')}` : ''}`,
          `  payload  ${(r.payload.bytes / (1 << 20)).toFixed(1)} MiB (${(r.payload.unpacked_bytes / (1 << 20)).toFixed(0)} MiB unpacked)`,
          ...r.notes.map((n) => `  note     ${n}`),
        ]);
      return 0;
    }
    default:
      throw new UsageError(
        'usage: dfs-ebpf node up|down|status [--name NAME] | up --count N [--name PREFIX] | down|status --all [--name PREFIX] | install|uninstall TARGET [--json]',
      );
  }
}

type AllOptions = Parameters<typeof nodesDownAll>[0];

/** `node down --all`: `{"nodes":[{"name","up":false,"error"?}]}`, non-zero when any node is not entirely down. */
async function downAll(opts: AllOptions, io: Io): Promise<number> {
  const results = await nodesDownAll(opts);
  const failed = results.filter((r) => r.error !== undefined);
  if (io.json)
    printJson({ nodes: results.map((r) => ({ name: r.name, up: false, ...(r.error ? { error: r.error } : {}) })) });
  else
    printLines(
      results.length
        ? results.map((r) => `test node ${r.name} ${r.error ? `is not entirely down: ${r.error}` : 'is down'}`)
        : ['no local test nodes'],
    );
  if (failed.length > 0) {
    throw new DfsError(
      ErrorCode.Internal,
      `${failed.map((r) => r.name).join(', ')} not entirely down: ${failed.map((r) => r.error ?? '').join(' / ')}`,
    );
  }
  return 0;
}

/** `node status --all`: `{"nodes":[…each as node status --json…]}`, non-zero when any node is not up. */
async function statusAll(opts: AllOptions, io: Io): Promise<number> {
  const all = await nodesStatusAll(opts);
  const down = all.filter((st) => !st.up || !st.node);
  if (io.json) printJson({ nodes: all.map((st) => statusDoc(st.name, st)) });
  else if (all.length === 0) printLines(['no local test nodes']);
  else
    printLines(
      all.flatMap((st) => [
        `test node ${st.name} is ${st.up && st.node ? 'up' : 'NOT up'}${st.node?.fleet ? ` (${fleetRoleText(st.node.fleet)})` : ''}`,
        ...st.components.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`),
      ]),
    );
  if (down.length > 0) {
    throw new DfsError(
      ErrorCode.NodeNotUp,
      `${down.map((st) => `${st.name} (${brokenParts(st).join('; ')})`).join(', ')} not up; run \`dfs-ebpf node up\` for ${down.length === 1 ? 'it' : 'them'}`,
    );
  }
  return 0;
}
