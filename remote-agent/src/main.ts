/**
 * Entry point of the privileged agent (`dfs-ebpf-agent`), run on a test node as
 * `sudo -n dfs-ebpf-agent --stdio` over an SSH exec channel. One process serves one client:
 * it exits, releasing every BPF attachment, when its stdin closes (the connection went away),
 * on SIGTERM/SIGINT/SIGHUP, and on an unexpected error. It has no network listener.
 *   --stdio     serve JSON-RPC on stdin/stdout
 *   --version   print {"name","version","protocolVersion"} and exit
 *   --sweep     release bypasses orphaned by an agent that died uncleanly (run by the wrapper)
 *   --release-pins  release every pinned bypass of ours (run as root by `dfs-ebpf node uninstall`)
 *   --check-object  (internal) the sandbox child: one untrusted object job on stdin (sandbox.ts)
 */

import { StreamMessageWriter } from 'vscode-jsonrpc/node';
import { PROTOCOL_VERSION } from '@dfs/protocol';
import { FrameReader } from './framing';
import { AgentLog } from './log';
import { Manager } from './manager';
import { loadAddon } from './native';
import { checkBypassHere } from './bypass';
import { removeAllPinned } from './pins';
import { sandboxChild, type SandboxWorker } from './sandbox';
import { serve } from './server';
import { sweepOrphans } from './sweep';
import { verifyHere } from './verify';
import { AGENT_VERSION } from './version';

/** The jobs a sandbox child runs (sandbox.ts): both open the client's object with libbpf. */
const sandboxJob: SandboxWorker = (addon, job, elf, log) =>
  job.kind === 'verify'
    ? verifyHere(addon, elf, job.objectName, job.logLevel, log)
    : checkBypassHere(addon, elf, job.objectName);

function main(argv: string[]): void {
  if (argv.includes('--version')) {
    process.stdout.write(
      JSON.stringify({ name: 'dfs-ebpf-agent', version: AGENT_VERSION, protocolVersion: PROTOCOL_VERSION }) + '\n',
    );
    return;
  }
  if (!['--stdio', '--sweep', '--release-pins', '--check-object'].some((a) => argv.includes(a))) {
    process.stderr.write('usage: dfs-ebpf-agent --stdio | --sweep | --release-pins | --version\n');
    process.exitCode = 2;
    return;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('dfs-ebpf-agent must run as root (sudo -n dfs-ebpf-agent --stdio)\n');
    process.exitCode = 1;
    return;
  }
  if (argv.includes('--sweep')) {
    void sweepWithRetries(new AgentLog());
    return;
  }
  if (argv.includes('--release-pins')) {
    const n = removeAllPinned(loadAddon());
    process.stdout.write(`released ${n} pinned bypass${n === 1 ? '' : 'es'}\n`);
    return;
  }
  if (argv.includes('--check-object')) {
    sandboxChild(() => loadAddon(), sandboxJob);
    return;
  }

  const log = new AgentLog();
  const manager = new Manager(loadAddon(), log, __dirname);
  // What an agent killed with its wrapper left (the wrapper's --sweep never ran); mutations wait for it.
  void manager.sweepAtStart();
  let exiting = false;
  const shutdown = (why: string, code: number): void => {
    if (exiting) return;
    exiting = true;
    log.info('agent', `shutting down: ${why}`);
    log.forwardTo(undefined);
    manager.dispose();
    process.exit(code);
  };

  process.on('SIGTERM', () => shutdown('SIGTERM', 0));
  process.on('SIGINT', () => shutdown('SIGINT', 0));
  process.on('SIGHUP', () => shutdown('SIGHUP', 0));
  process.on('uncaughtException', (err) => {
    log.error('agent', `uncaught: ${err.stack ?? err.message}`);
    shutdown('uncaught exception', 1);
  });
  process.on('unhandledRejection', (err) => {
    log.error('agent', `unhandled rejection: ${String(err)}`);
    shutdown('unhandled rejection', 1);
  });
  process.stdin.on('end', () => shutdown('client disconnected (stdin closed)', 0));
  process.stdin.on('close', () => shutdown('client disconnected (stdin closed)', 0));
  // A write to a closed pipe means the client is gone, too.
  process.stdout.on('error', () => shutdown('client disconnected (stdout closed)', 0));

  // The strict reader answers and closes on a framing error; closing releases like a disconnect.
  const conn = serve(new FrameReader(process.stdin), new StreamMessageWriter(process.stdout), manager, log);
  conn.onClose((why) => shutdown(`connection closed: ${why}`, 0));
  log.info('agent', `dfs-ebpf-agent ${AGENT_VERSION} serving on stdio (pid ${process.pid})`);
}

/** A dead owner's programs leave the kernel's id table a moment after its fds close: retry briefly. */
async function sweepWithRetries(log: AgentLog): Promise<void> {
  const addon = loadAddon();
  for (let pass = 0; pass < 5; pass++) {
    sweepOrphans(addon, log);
    await new Promise((r) => setTimeout(r, 200));
  }
}

main(process.argv.slice(2));
