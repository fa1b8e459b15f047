/**
 * A session with a node: the SSH connection, the agent started over it as
 * `sudo -n AGENT --stdio`, and the agent's answer to `agent/initialize`. Closing the session
 * (or losing the connection) ends the agent process, which releases everything it attached.
 * Shared by the CLI and the extension.
 */

import {
  AgentUpdateRequest,
  ErrorCode,
  InitializeRequest,
  PROTOCOL_VERSION,
  type AgentUpdateParams,
  type AgentUpdateResult,
  type InitializeResult,
  type LogEntry,
  type RequestSpec,
} from '@dfs/protocol';
import { DfsError } from '../errors';
import type { Progress } from '../log';
import { SshConnection, shellQuote, type ConnectOptions } from '../ssh/connection';
import { targetAddress, type NodeTarget } from '../ssh/target';
import { AgentClient } from './client';

export interface SessionOptions extends ConnectOptions {
  /** e.g. "vscode 1.139.1" or "cli". */
  clientName: string;
  progress?: Progress;
  /** Called for every log entry the agent forwards. */
  onAgentLog?: (entry: LogEntry) => void;
}

export class NodeSession {
  private readonly closeListeners: ((why: string) => void)[] = [];
  private closedWhy: string | undefined;

  private constructor(
    readonly target: NodeTarget,
    readonly ssh: SshConnection,
    readonly agent: AgentClient,
    readonly info: InitializeResult,
    readonly agentExited: Promise<number | null>,
  ) {
    const onGone = (why: string): void => {
      if (this.closedWhy !== undefined) return;
      this.closedWhy = why;
      agent.markClosed(why);
      ssh.close();
      for (const l of this.closeListeners.splice(0)) l(why);
    };
    ssh.onClose((why) => onGone(`SSH ${why}`));
    agent.onClose((why) => onGone(`agent ${why}`));
    void agentExited.then((code) => onGone(`agent exited with code ${code ?? 'signal'}`));
  }

  static async open(target: NodeTarget, opts: SessionOptions): Promise<NodeSession> {
    const progress = opts.progress ?? (() => undefined);
    progress(`Connecting to ${targetAddress(target)}`);
    const ssh = await SshConnection.connect(target, opts);
    try {
      progress('Starting the agent');
      const started = await startAgent(ssh, target, opts);
      progress('Checking the agent version');
      let info: InitializeResult;
      try {
        info = await started.agent.request(InitializeRequest, {
          client: opts.clientName,
          protocolVersion: PROTOCOL_VERSION,
        });
      } catch (err) {
        throw started.explain(err);
      }
      opts.log.info(
        `agent ${info.agentVersion} on ${info.kernel.release} (${info.kernel.machine}), libbpf ${info.libbpfVersion}`,
      );
      return new NodeSession(target, ssh, started.agent, info, started.exited);
    } catch (err) {
      ssh.close();
      throw err;
    }
  }

  get isClosed(): boolean {
    return this.closedWhy !== undefined;
  }

  onClose(listener: (why: string) => void): void {
    if (this.closedWhy !== undefined) listener(this.closedWhy);
    else this.closeListeners.push(listener);
  }

  request<P, R>(spec: RequestSpec<P, R>, params: P): Promise<R> {
    return this.agent.request(spec, params);
  }

  /** End the session: the agent sees its stdin close and releases its attachments. */
  close(): void {
    this.agent.markClosed('closed by client');
    this.ssh.close();
  }
}

interface StartedAgent {
  agent: AgentClient;
  exited: Promise<number | null>;
  /** Turn a failure of the first request into "the agent did not start", with its stderr. */
  explain(err: unknown): unknown;
}

/** Run `sudo -n AGENT --stdio` over the connection and talk JSON-RPC to it. */
async function startAgent(ssh: SshConnection, target: NodeTarget, opts: SessionOptions): Promise<StartedAgent> {
  const cmd = `sudo -n ${shellQuote(target.agentCommand)} --stdio`;
  const { channel, exited } = await ssh.exec(cmd);
  const stderr: string[] = [];
  channel.stderr.on('data', (d: Buffer) => {
    const text = d.toString('utf8');
    stderr.push(text);
    for (const line of text.split('\n').filter(Boolean)) opts.log.trace(`agent stderr: ${line}`);
  });
  const agent = new AgentClient(channel, channel);
  if (opts.onAgentLog) agent.onLog(opts.onAgentLog);
  exited.then(
    (code) => agent.markClosed(`exited with code ${code ?? 'signal'}`),
    () => undefined,
  );
  return {
    agent,
    exited,
    explain: (err) => {
      if (!(err instanceof DfsError) || err.code !== ErrorCode.ConnectionLost) return err;
      const why = stderr.join('').trim().split('\n').pop() ?? '';
      return new DfsError(
        ErrorCode.AgentUnavailable,
        `the agent did not start on ${targetAddress(target)}${why ? `: ${why}` : ''} (ran: ${cmd}); is the node provisioned and the sudo rule in place?`,
      );
    },
  };
}

/**
 * Deploy the client's agent bundle to the node through its installed agent (`agent/update`,
 * which works whatever the installed version). Returns the version now installed.
 */
export async function deployAgent(
  target: NodeTarget,
  bundle: AgentUpdateParams,
  opts: SessionOptions,
): Promise<AgentUpdateResult> {
  const ssh = await SshConnection.connect(target, opts);
  try {
    const started = await startAgent(ssh, target, opts);
    return await started.agent.request(AgentUpdateRequest, bundle).catch((err: unknown) => {
      throw started.explain(err);
    });
  } finally {
    ssh.close();
  }
}
