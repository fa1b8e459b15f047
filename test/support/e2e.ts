// Shared by the e2e files: where their screenshots go, and the packaged extension each one
// installs into its code-server (built by `npm run package`; checked before anything starts).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './repo';

/** out/test-results/e2e: screenshots kept as test artifacts. */
export const E2E_ARTIFACTS = join(repoRoot(), 'out', 'test-results', 'e2e');

/** dist/dfs-ebpf.vsix, which must exist; makes the artifacts folder too. */
export function packagedExtension(): string {
  const vsix = join(repoRoot(), 'dist', 'dfs-ebpf.vsix');
  assert.ok(existsSync(vsix), `${vsix} exists (npm run package)`);
  mkdirSync(E2E_ARTIFACTS, { recursive: true });
  return vsix;
}
