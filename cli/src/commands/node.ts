/**
 * `dfs-ebpf node up|down|status [--name NAME]`: the local JuiceFS test node (DESIGN.md §4, §7);
 * `node install|uninstall TARGET`: the agent on a node reached over SSH (core/src/install).
 */

import { nodeDown, nodeStatus, nodeUp, type LocalNode } from '@dfs/core/testnode';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '@dfs/core/errors';
import { UsageError, value, type Parsed } from '../args';
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
  };
}

export async function nodeCommand(p: Parsed, io: Io): Promise<number> {
  const verb = p.positionals[1];
  const name = value(p, 'name');
  const common = { log: stderrLogger(io), progress: stderrProgress(io), ...(name ? { name } : {}) };
  switch (verb) {
    case 'up': {
      const n = await nodeUp({ ...common, agentBundleDir: agentBundleDir() });
      if (io.json) printJson(nodeDoc(n));
      else
        printLines([
          `test node ${n.name} is up`,
          `  ssh      ${n.user}@${n.host}:${n.port} (key ${n.identityFile})`,
          `  juicefs  ${n.mountpoint} (JuiceFS ${n.juicefsVersion}, meta ${n.meta}, objects ${n.bucket})`,
          `  agent    ${n.agentVersion}`,
        ]);
      return 0;
    }
    case 'down':
      await nodeDown(common);
      if (io.json) printJson({ name: name ?? 'dfsnode0', up: false });
      else printLines([`test node ${name ?? 'dfsnode0'} is down`]);
      return 0;
    case 'status': {
      const st = await nodeStatus(common);
      if (!st.up || !st.node) {
        const broken = st.components.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
        if (io.json) printJson({ name: name ?? 'dfsnode0', up: false, components: st.components });
        throw new DfsError(
          ErrorCode.NodeNotUp,
          `test node ${name ?? 'dfsnode0'} is not up${broken.length ? ` (${broken.join('; ')})` : ''}; run \`dfs-ebpf node up\``,
        );
      }
      if (io.json) printJson({ ...nodeDoc(st.node), up: true, components: st.components });
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
      throw new UsageError('usage: dfs-ebpf node up|down|status [--name NAME] | install|uninstall TARGET [--json]');
  }
}
