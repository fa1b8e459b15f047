/** Where the CLI finds what ships beside it: dist/cli/main.js → dist/agent/. */

import { join } from 'node:path';

export function agentBundleDir(): string {
  return join(__dirname, '..', 'agent');
}

/** The package root (dist/cli/main.js → ../..), where the reference bpf/ sources live. */
export function repoRootOfCli(): string {
  return join(__dirname, '..', '..');
}

/** The program templates and the bypass workspace: dist/cli/main.js → dist/templates/. */
export function templatesDir(): string {
  return join(__dirname, '..', 'templates');
}
