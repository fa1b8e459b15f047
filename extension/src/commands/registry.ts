/**
 * Registers every command with its typed arguments (CommandArgs in contributions.ts). VS Code
 * hands a command whatever its caller passed (nothing from the palette, a Uri from a menu,
 * anything from another extension), so each argument is checked here before the handler
 * runs: a wrong one is dropped with a log line, never passed on as the wrong type.
 */

import * as vscode from 'vscode';
import { Commands, type CommandArgs, type CommandId } from '../contributions';

export type CommandHandlers = { [K in CommandId]: (...args: CommandArgs[K]) => unknown };

type Check = (v: unknown) => boolean;
const uri: Check = (v) => v instanceof vscode.Uri;
const text: Check = (v) => typeof v === 'string';
const flag: Check = (v) => typeof v === 'boolean';
const seconds: Check = (v) => typeof v === 'number' && Number.isFinite(v) && v > 0;
const objectId: Check = (v) => typeof v === 'number' && Number.isInteger(v) && v > 0;
/** A node explorer item (what a tree menu hands a command). */
const explorerItem: Check = (v) =>
  typeof v === 'object' && v !== null && ['program', 'map', 'link'].includes((v as { kind?: unknown }).kind as string);
const idOrItem: Check = (v) => objectId(v) || explorerItem(v);

/** The run-time shape of each command's arguments, position by position (all optional). */
const SHAPES: { [K in CommandId]: Check[] } = {
  [Commands.connect]: [],
  [Commands.disconnect]: [],
  [Commands.attachBypass]: [],
  [Commands.detachBypass]: [],
  [Commands.showLog]: [],
  [Commands.showBypass]: [],
  [Commands.build]: [],
  [Commands.verify]: [uri],
  [Commands.showVerifierLog]: [uri, text],
  [Commands.openVerifierLog]: [uri],
  [Commands.profileNode]: [seconds],
  [Commands.compareProfiles]: [uri, uri],
  [Commands.profileBypassOffOn]: [text, text],
  [Commands.openMap]: [idOrItem],
  [Commands.refreshNodeExplorer]: [],
  [Commands.detachLink]: [idOrItem],
  [Commands.verifyProgram]: [explorerItem],
  [Commands.copyId]: [idOrItem],
  [Commands.installAgent]: [text],
  [Commands.uninstallAgent]: [text],
  [Commands.attachBypassNodes]: [text],
  [Commands.detachBypassNodes]: [text],
  [Commands.refreshNodes]: [],
  [Commands.verifyNodes]: [uri, text],
  [Commands.profileNodes]: [seconds, text],
  [Commands.useNode]: [text],
  [Commands.newProgram]: [text, text, uri],
  [Commands.createWorkspace]: [uri, flag],
};

/** Keep the arguments that fit the command's shape; the rest become undefined (and are logged). */
export function checkArgs(id: CommandId, args: unknown[], log: (msg: string) => void): unknown[] {
  const shape = SHAPES[id];
  const out = shape.map((fits, i) => {
    const v = args[i];
    if (v === undefined || v === null || fits(v)) return v ?? undefined;
    log(`${id}: ignored argument ${i + 1} of an unexpected type (${typeof v})`);
    return undefined;
  });
  while (out.length > 0 && out[out.length - 1] === undefined) out.pop();
  return out;
}

export function registerCommands(handlers: CommandHandlers, log: vscode.LogOutputChannel): vscode.Disposable[] {
  return (Object.keys(handlers) as CommandId[]).map((id) =>
    vscode.commands.registerCommand(id, (...args: unknown[]) => {
      const run = handlers[id] as (...a: unknown[]) => unknown;
      return run(...checkArgs(id, args, (m) => log.warn(m)));
    }),
  );
}
