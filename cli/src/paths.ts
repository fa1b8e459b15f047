/** Where the CLI finds what ships beside it: dist/cli/main.js → dist/agent/. */

import { join } from 'node:path';

export function agentBundleDir(): string {
  return join(__dirname, '..', 'agent');
}
