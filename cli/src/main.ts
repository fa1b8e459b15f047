/**
 * `dfs-ebpf`: the command line over the same core as the extension (DESIGN.md §7).
 * Every command takes --json (one JSON document on stdout); failures exit non-zero with a
 * one-line reason on stderr. Without --node, commands target the local test node dfsnode0.
 */

import { ErrorCode, errorCodeName } from '@dfs/protocol';
import { DfsError, describeError } from '@dfs/core/errors';
import { parseArgs, UsageError, type OptionSpec } from './args';
import { attachCommand, detachCommand, statusCommand } from './commands/bypass';
import { benchCommand } from './commands/bench';
import { buildCommand, verifyCommand } from './commands/build';
import { checkCommand } from './commands/check';
import { newCommand } from './commands/new';
import { mapsCommand } from './commands/maps';
import { nodeCommand } from './commands/node';
import { profileCommand } from './commands/profile';
import { perNode } from './fleet';
import type { Io } from './output';

const OPTIONS: Record<string, OptionSpec> = {
  json: {},
  verbose: {},
  help: {},
  name: { value: true },
  count: { value: true },
  all: {},
  node: { value: true },
  object: { value: true },
  mount: { value: true },
  extra: { value: true, repeat: true },
  hold: {},
  duration: { value: true },
  rounds: { value: true },
  'log-level': { value: true },
  include: { value: true, repeat: true },
  quick: {},
  format: { value: true },
  out: { value: true },
  dir: { value: true },
  compare: { value: true },
  'slow-us': { value: true },
  'stack-every': { value: true },
  'no-stacks': {},
  'off-on': {},
  workload: { value: true },
  command: { value: true },
  yes: {},
  'sudo-password-stdin': {},
};

const USAGE = `usage: dfs-ebpf <command> [options]
  node up|down|status [--name NAME]     the local JuiceFS test node
  node up --count N [--name PREFIX]     a fleet PREFIX0 … (default dfsnode0 …) of N (2-8) nodes mounting node 0's volume
  node down|status --all [--name PREFIX]   every local node (or only fleet PREFIX), members before node 0
  node install|uninstall TARGET [--sudo-password-stdin]   the agent on a node over SSH (TARGET: user@host[:port] or an ~/.ssh/config Host)
  attach bypass [--mount PATH] [--object FILE] [--extra HOST:PORT]... [--hold [--duration S]]
  detach bypass                          remove a pinned bypass
  status                                 node, agent, kernel features and bypass counters
  build [FILE.bpf.c ...] [--include DIR]...   compile for the node's kernel; writes compile_commands.json
  check [FILE.bpf.c ...]                 checks before the verifier: sections, attach targets, helpers, maps
  new program [KIND NAME [--dir DIR]]    a program from a template (no KIND: the list); new workspace DIR: the bypass workspace
  verify FILE.bpf.c|FILE.bpf.o [--log-level 1|2]   verify every program in the node's kernel
  bench [--rounds N] [--quick]           A/B benchmark, bypass off vs on, interleaved
  bench verify [FILE.bpf.c] [--rounds N] save-to-diagnostic time, dfs-ebpf vs clang + bpftool
  bench profile [--rounds N] [--quick]   JuiceFS throughput without and with a profile running, interleaved
  bench fleet --node a,b,c|all [--rounds N]   a fleet command for all nodes vs one node after another (attach, status, detach)
  bench maps [--rounds N]                a 100,000-entry map read whole, dfs-ebpf vs bpftool map dump -j (local node, root)
  profile [--duration S] [--mount PATH] [--slow-us US] [--stack-every N] [--no-stacks] [--out FILE] [--format json|folded|speedscope]
                                         where JuiceFS I/O spends its time: latency histograms + wall-clock stacks
  profile --off-on [--workload juicefs-metadata|juicefs-sequential | --command CMD] [--out PREFIX]
                                         the same workload profiled with the bypass off, then on
  profile --compare A B                  per-layer and per-frame differences of two profile files
  maps list                              the node's BPF maps (ours marked)
  maps dump MAP                          a map's entries decoded through BTF (MAP: name or id)
  maps update MAP KEY VALUE [--yes]      write one entry; KEY and VALUE as JSON, as dump prints them
  maps delete MAP KEY [--yes]            delete one entry (--yes: the map is not ours, change it anyway)
common options: --node NAME|user@host[:port]|ALIAS  --json  --verbose
  attach, detach, status, verify, profile and maps take --node a,b,c or --node all (every local node):
  run on each node at once, one result per node: {"nodes":[{"name","ok","error"?, …}]}`;

async function run(argv: string[]): Promise<number> {
  const p = parseArgs(argv, OPTIONS);
  const io: Io = { json: p.flags.has('json'), verbose: p.flags.has('verbose') };
  if (p.flags.has('help') || p.positionals.length === 0) {
    process.stdout.write(USAGE + '\n');
    return p.flags.has('help') ? 0 : 2;
  }
  switch (p.positionals[0]) {
    case 'node':
      return nodeCommand(p, io);
    case 'attach':
      return perNode(p, io, attachCommand);
    case 'detach':
      return perNode(p, io, detachCommand);
    case 'status':
      return perNode(p, io, statusCommand);
    case 'bench':
      return benchCommand(p, io);
    case 'build':
      return buildCommand(p, io);
    case 'check':
      return checkCommand(p, io);
    case 'new':
      return newCommand(p, io);
    case 'verify':
      return perNode(p, io, verifyCommand);
    case 'profile':
      return perNode(p, io, profileCommand);
    case 'maps':
      return perNode(p, io, mapsCommand);
    default:
      throw new UsageError(`unknown command "${p.positionals[0] ?? ''}"\n${USAGE}`);
  }
}

run(process.argv.slice(2)).then(
  // Exit once stdout has drained: a large --json document to a pipe is written asynchronously.
  (code) => process.stdout.write('', () => process.exit(code)),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`dfs-ebpf: ${err.message}\n`);
      process.exit(2);
    }
    // Every failure line carries a code; one that is not a DfsError is a bug of ours: Internal.
    const code = ` [${errorCodeName(err instanceof DfsError ? err.code : ErrorCode.Internal)}]`;
    process.stderr.write(`dfs-ebpf: ${describeError(err).split('\n')[0] ?? ''}${code}\n`);
    if (process.argv.includes('--verbose') && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`);
    process.exit(1);
  },
);
