/**
 * "New eBPF program…" and "Create bypass workspace…": starting points that build and verify
 * with no edits (core/src/editing/templates.ts renders them from dist/templates). A new
 * program goes into the workspace's `bpf/` (or the folder given), opens in the editor, and,
 * with a node connected, is built at once so compile_commands.json tells clangd about it. The
 * workspace goes into an empty folder the user picks and is offered to open.
 */

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import {
  bypassWorkspace,
  listTemplates,
  programNameProblem,
  renderProgram,
  writeAll,
} from '@dfs/core/editing/templates';
import { Commands } from '../contributions';
import type { Ctx } from '../ctx';

const templatesDir = (ctx: Ctx): string => join(ctx.extension.extensionPath, 'dist', 'templates');

/** Where a new program goes: the given folder, else the first workspace folder's bpf/, else asked. */
async function programFolder(given: vscode.Uri | undefined): Promise<vscode.Uri | undefined> {
  if (given) return given;
  const ws = vscode.workspace.workspaceFolders?.[0];
  if (ws) return vscode.Uri.joinPath(ws.uri, 'bpf');
  const picked = await vscode.window.showOpenDialog({
    title: 'New eBPF program: into which folder?',
    canSelectFolders: true,
    canSelectFiles: false,
  });
  return picked?.[0];
}

export function newProgramCommand(
  ctx: Ctx,
): (kind?: string, name?: string, folder?: vscode.Uri) => Promise<string[] | undefined> {
  return async (kindArg, nameArg, folderArg) => {
    try {
      const templates = listTemplates(templatesDir(ctx));
      const kind =
        kindArg ??
        (
          await vscode.window.showQuickPick(
            templates.map((t) => ({ label: t.label, description: t.attach, detail: t.description, template: t.kind })),
            { title: 'New eBPF program: which kind?', matchOnDetail: true },
          )
        )?.template;
      if (!kind) return undefined;
      const name =
        nameArg ??
        (await vscode.window.showInputBox({
          title: 'New eBPF program: its name',
          prompt: 'A C identifier: the files, programs and maps are named after it',
          value: kind === 'sockops_bypass' ? 'my_bypass' : `my_${kind}`,
          validateInput: (v) => programNameProblem(v) ?? undefined,
        }));
      if (!name) return undefined;
      const folder = await programFolder(folderArg);
      if (!folder) return undefined;
      const written = writeAll(folder.fsPath, renderProgram(templatesDir(ctx), kind, name));
      const source = written.find((f) => f.endsWith('.bpf.c'));
      if (source) await vscode.window.showTextDocument(vscode.Uri.file(source));
      ctx.log.info(`new ${kind} program: ${written.join(', ')}`);
      // Built at once when a node is connected: errors show, and clangd learns the flags.
      if (ctx.connected) void vscode.commands.executeCommand(Commands.build);
      else
        void vscode.window.showInformationMessage(
          `DFS eBPF: created ${name}.bpf.c. Connect to a test node to build it (the build also writes compile_commands.json for clangd).`,
        );
      return written;
    } catch (err) {
      ctx.reportError('cannot create the program', err);
      return undefined;
    }
  };
}

export function createWorkspaceCommand(
  ctx: Ctx,
): (folder?: vscode.Uri, open?: boolean) => Promise<string[] | undefined> {
  return async (folderArg, openArg) => {
    try {
      const folder =
        folderArg ??
        (
          await vscode.window.showOpenDialog({
            title: 'Create bypass workspace: an empty folder',
            canSelectFolders: true,
            canSelectFiles: false,
            openLabel: 'Create here',
          })
        )?.[0];
      if (!folder) return undefined;
      const present = readdirSync(folder.fsPath);
      if (present.length > 0) {
        throw new Error(`${folder.fsPath} is not empty (${present.slice(0, 3).join(', ')}…): pick an empty folder`);
      }
      const written = writeAll(folder.fsPath, bypassWorkspace(templatesDir(ctx)));
      ctx.log.info(`bypass workspace in ${folder.fsPath}: ${written.length} files`);
      if (openArg === false) return written;
      void vscode.window
        .showInformationMessage(`DFS eBPF: the bypass workspace is in ${folder.fsPath}.`, 'Open Folder')
        .then((choice) => {
          if (choice === 'Open Folder') void vscode.commands.executeCommand('vscode.openFolder', folder);
        });
      return written;
    } catch (err) {
      ctx.reportError('cannot create the bypass workspace', err);
      return undefined;
    }
  };
}
