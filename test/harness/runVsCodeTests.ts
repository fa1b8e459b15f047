// Owns running an extension suite through @vscode/test-electron's own runTests() API, with
// code-shim.js as the "VS Code executable" (no VS Code download: the shim runs the suite in
// code-server via runExtensionTests). This keeps the suites in the standard test-electron
// layout and contract, so they would run unchanged on desktop VS Code.
// A library only (no CLI here: bundled into another entry, a `require.main` check would fire
// there too); test/extension/run.ts is the project's entry.
import { TestRunFailedError, runTests } from '@vscode/test-electron';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot as findRepoRoot } from '../support/repo';

export interface VsCodeTestOptions {
  readonly extensionDevelopmentPath: string;
  /** Absolute path of the compiled suite entry exporting run(). */
  readonly extensionTestsPath: string;
  readonly workspaceFolder?: string;
  /** Environment for the extension host (runTests' extensionTestsEnv). */
  readonly extensionHostEnv?: Readonly<Record<string, string>>;
  readonly settings?: Readonly<Record<string, unknown>>;
  /** Bound on the whole run, default 10 minutes (enforced by the shim's runner). */
  readonly timeoutMs?: number;
}

export function codeShimPath(repoRoot: string = findRepoRoot()): string {
  return join(repoRoot, 'test/harness/code-shim.js');
}

/** Resolves with the suite's exit code: 0 when every test passed. Rejects only when
 *  runTests itself cannot run (e.g. the shim cannot be spawned). */
export async function runVsCodeTests(options: VsCodeTestOptions): Promise<number> {
  const launchArgs: string[] = [];
  if (options.workspaceFolder !== undefined) launchArgs.push(options.workspaceFolder);
  if (options.timeoutMs !== undefined) launchArgs.push(`--harness-timeout-ms=${options.timeoutMs}`);
  let settingsDir: string | undefined;
  if (options.settings !== undefined) {
    settingsDir = mkdtempSync(join(tmpdir(), 'dfs-settings-'));
    const file = join(settingsDir, 'settings.json');
    writeFileSync(file, JSON.stringify(options.settings));
    launchArgs.push(`--harness-settings=${file}`);
  }
  try {
    return await runTests({
      vscodeExecutablePath: codeShimPath(),
      extensionDevelopmentPath: options.extensionDevelopmentPath,
      extensionTestsPath: options.extensionTestsPath,
      launchArgs,
      extensionTestsEnv: options.extensionHostEnv === undefined ? undefined : { ...options.extensionHostEnv },
    });
  } catch (e) {
    if (e instanceof TestRunFailedError) return e.code ?? 1;
    throw e;
  } finally {
    if (settingsDir !== undefined) rmSync(settingsDir, { recursive: true, force: true });
  }
}
