/**
 * The agent's version: its bundle's manifest.json (what deployment writes and compares), else
 * the version esbuild injected from package.json (`__DFS_VERSION__`) for a bare build.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

declare const __DFS_VERSION__: string;

function fromManifest(): string | undefined {
  try {
    const v = (JSON.parse(readFileSync(join(__dirname, 'manifest.json'), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined; // no manifest beside a development build
  }
}

export const AGENT_VERSION: string =
  fromManifest() ?? (typeof __DFS_VERSION__ === 'string' ? __DFS_VERSION__ : '0.0.0-dev');
