/**
 * The `dfs-ebpf` task type: "dfs-ebpf: build" compiles every `*.bpf.c` of the workspace for
 * the connected node's kernel (Terminal → Run Task, or as a preLaunch/build task). It runs in
 * a pseudoterminal, reports what it built, and publishes compiler diagnostics like the command.
 */

import * as vscode from 'vscode';
import { describeError } from '@dfs/core/errors';
import type { Ctx } from '../ctx';
import type { VerifierService } from './service';

export const TASK_TYPE = 'dfs-ebpf';

function buildExecution(ctx: Ctx, service: VerifierService): vscode.CustomExecution {
  return new vscode.CustomExecution(async () => {
    const write = new vscode.EventEmitter<string>();
    const close = new vscode.EventEmitter<number>();
    const line = (s: string): void => write.fire(`${s.replace(/\n/g, '\r\n')}\r\n`);
    const term: vscode.Pseudoterminal = {
      onDidWrite: write.event,
      onDidClose: close.event,
      open: () => {
        void (async () => {
          try {
            const session = await ctx.ensureConnected();
            line(`building for ${session.target.label} (kernel ${session.info.kernel.release})`);
            const res = await service.build(session);
            for (const r of res.results)
              line(`${r.ok ? 'built' : 'FAILED'} ${r.source}${r.ok ? ` → ${r.object}` : ''}`);
            for (const d of res.diagnostics) line(`${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`);
            if (res.compileCommands) line(`wrote ${res.compileCommands}`);
            close.fire(res.results.every((r) => r.ok) ? 0 : 1);
          } catch (err) {
            line(`error: ${describeError(err)}`);
            close.fire(1);
          }
        })();
      },
      close: () => undefined,
    };
    return Promise.resolve(term);
  });
}

export function buildTask(ctx: Ctx, service: VerifierService): vscode.Task {
  const task = new vscode.Task(
    { type: TASK_TYPE, task: 'build' },
    vscode.TaskScope.Workspace,
    'build',
    TASK_TYPE,
    buildExecution(ctx, service),
  );
  task.group = vscode.TaskGroup.Build;
  return task;
}

export function registerTasks(ctx: Ctx, service: VerifierService): vscode.Disposable {
  return vscode.tasks.registerTaskProvider(TASK_TYPE, {
    provideTasks: () => [buildTask(ctx, service)],
    resolveTask: (t) => ((t.definition as { task?: string }).task === 'build' ? buildTask(ctx, service) : undefined),
  });
}
