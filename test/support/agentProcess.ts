// Test support: the built agent (dist/agent/agent.js) as a real root process in a fresh, empty
// network namespace (unshare --net: no JuiceFS mount is "ours", so nothing can be attached;
// or, when asked, in a local node's namespace),
// talked to over its stdio with raw bytes. Parses what the agent writes (vscode-jsonrpc
// frames), keeps the responses apart from its agent/log notifications, and reads its memory
// from /proc. DFS_TEST_AGENT_JS points the tests at another build (e.g. an older agent, to
// check that a regression test fails there).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './repo';

export interface AgentResponse {
  jsonrpc?: unknown;
  id: number | string | null;
  result?: unknown;
  error?: { code: number; message: string; data?: { code?: number; message?: string } };
}

export const agentJs = (): string => process.env.DFS_TEST_AGENT_JS ?? join(repoRoot(), 'dist/agent/agent.js');

export function frame(body: string | Buffer): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  return Buffer.concat([Buffer.from(`Content-Length: ${b.length}\r\n\r\n`), b]);
}

export const request = (id: number | string, method: string, params: unknown = {}): Buffer =>
  frame(JSON.stringify({ jsonrpc: '2.0', id, method, params }));

export class RawAgent {
  /** Agents started by this test process that have not exited yet. */
  static readonly live = new Set<RawAgent>();
  readonly proc: ChildProcessWithoutNullStreams;
  readonly responses: AgentResponse[] = [];
  /** Frames that were not JSON or not a response nor a notification (must stay empty). */
  readonly garbage: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Bytes received and not parsed yet, and how many a frame in progress needs. */
  private parts: Buffer[] = [];
  private partsLen = 0;
  private need = 0;
  private waiters: (() => void)[] = [];
  /** Highest VmHWM (kB) seen by sample(). */
  peakKb = 0;

  /** `netns`: run in that named network namespace (a local node's) instead of a fresh, empty one. */
  constructor(js: string = agentJs(), netns?: string) {
    const [cmd, args] = netns
      ? ['nsenter', [`--net=/run/netns/${netns}`, '--', process.execPath, js, '--stdio']]
      : ['unshare', ['--net', process.execPath, js, '--stdio']];
    this.proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdin.on('error', () => undefined); // EPIPE once the agent has closed: expected in these tests
    this.proc.stdout.on('data', (d: Buffer) => this.onData(d));
    this.proc.stderr.on('data', (d: Buffer) => {
      if (this.stderr.length < 2000) this.stderr.push(d.toString());
    });
    RawAgent.live.add(this);
    this.exited = new Promise((resolve) =>
      this.proc.on('exit', (code, signal) => {
        RawAgent.live.delete(this);
        this.exit = { code, signal };
        this.wake();
        resolve(this.exit);
      }),
    );
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private onData(d: Buffer): void {
    this.parts.push(d);
    this.partsLen += d.length;
    // A large answer arrives in many chunks: join them only once the frame can be complete.
    if (this.partsLen < this.need) return;
    let out = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts);
    this.need = 0;
    for (;;) {
      const sep = out.indexOf('\r\n\r\n');
      if (sep === -1) break;
      const m = /^Content-Length: (\d+)$/.exec(out.subarray(0, sep).toString('latin1'));
      if (!m) {
        this.garbage.push(`bad header from the agent: ${JSON.stringify(out.subarray(0, sep + 4).toString('latin1'))}`);
        out = Buffer.alloc(0);
        break;
      }
      const len = Number(m[1]);
      if (out.length < sep + 4 + len) {
        this.need = sep + 4 + len;
        break;
      }
      const body = out.subarray(sep + 4, sep + 4 + len).toString('utf8');
      out = out.subarray(sep + 4 + len);
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(body) as Record<string, unknown>;
      } catch {
        this.garbage.push(`not JSON: ${body.slice(0, 200)}`);
        continue;
      }
      if (msg.method === 'agent/log') continue;
      if ('id' in msg && ('result' in msg || 'error' in msg)) this.responses.push(msg as unknown as AgentResponse);
      else this.garbage.push(`neither a response nor a log: ${body.slice(0, 200)}`);
    }
    this.parts = out.length > 0 ? [out] : [];
    this.partsLen = out.length;
    this.wake();
  }

  write(bytes: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.exit || this.proc.stdin.destroyed) return resolve();
      this.proc.stdin.write(bytes, () => resolve());
    });
  }

  /** Resolve when `cond` holds, or with false after `ms` (or when the agent exited and it still does not). */
  async until(cond: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (this.exit && !cond()) return false;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  response(id: number | string | null): AgentResponse | undefined {
    return this.responses.find((r) => r.id === id);
  }

  /** Resident and peak memory of the agent now, in kB (null once it has exited). */
  memory(): { rssKb: number; hwmKb: number } | null {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
      const m = { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
      this.peakKb = Math.max(this.peakKb, m.hwmKb);
      return m;
    } catch {
      return null;
    }
  }

  kill(): void {
    if (!this.exit) this.proc.kill('SIGKILL');
  }
}
