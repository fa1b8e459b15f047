/**
 * Secrets the CLI asks for (a sudo password for `node install`): read from the terminal with
 * echo off, or — for scripts — the first line of stdin with `--sudo-password-stdin`. Never
 * from an argument or the environment, never printed or logged.
 */

import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '@dfs/core/errors';

/** The first line of stdin (the rest is ignored). */
export async function firstStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    if ((chunk as Buffer).includes(10)) break;
  }
  return Buffer.concat(chunks).toString('utf8').split('\n')[0]?.replace(/\r$/, '') ?? '';
}

/** Asks on the terminal without echo; undefined when Ctrl-C or Ctrl-D ends the prompt. */
export function askSecretOnTty(prompt: string): Promise<string | undefined> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    return Promise.reject(
      new DfsError(ErrorCode.PermissionDenied, `${prompt}: no terminal to ask on; pass it with --sudo-password-stdin`),
    );
  }
  process.stderr.write(`${prompt}: `);
  return new Promise((resolve) => {
    let text = '';
    const done = (v: string | undefined): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      resolve(v);
    };
    const onData = (d: Buffer): void => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(text);
        if (ch === '\u0003' || ch === '\u0004') return done(undefined);
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else text += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}
