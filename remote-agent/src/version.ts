/**
 * The agent's version and build digest: its bundle's manifest.json (what deployment writes and
 * compares), else the version esbuild injected from package.json (`__DFS_VERSION__`).
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

declare const __DFS_VERSION__: string;

function manifest(): { version?: unknown; build?: unknown } {
  try {
    return JSON.parse(readFileSync(join(__dirname, 'manifest.json'), 'utf8')) as { version?: unknown; build?: unknown };
  } catch {
    return {}; // no manifest beside a development build
  }
}

const m = manifest();
export const AGENT_VERSION: string =
  typeof m.version === 'string' ? m.version : typeof __DFS_VERSION__ === 'string' ? __DFS_VERSION__ : '0.0.0-dev';
/** The bundle's content digest (manifest "build"), '' for a bare development build. */
export const AGENT_BUILD: string = typeof m.build === 'string' ? m.build : '';
