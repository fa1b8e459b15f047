// Runs the extension tier: brings up a local test node for it, prepares a workspace holding
// a copy of the reference bypass sources (so "Attach bypass" builds the workspace's own
// program) and a buggy program from the verifier corpus, runs the mocha suite inside code-server through @vscode/test-electron, and takes
// the node down again. Exit code: the suite's.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeDown, nodeUp } from '../../core/src/testnode';
import { runVsCodeTests } from '../harness/runVsCodeTests';
import { repoRoot } from '../support/repo';

const NODE = 'dfsitext';

async function main(): Promise<number> {
  const root = repoRoot();
  await nodeUp({ name: NODE, agentBundleDir: join(root, 'dist/agent') });
  const workspace = mkdtempSync(join(tmpdir(), 'dfs-ext-ws-'));
  cpSync(join(root, 'bpf/bypass.bpf.c'), join(workspace, 'bpf/bypass.bpf.c'));
  cpSync(join(root, 'bpf/bypass.h'), join(workspace, 'bpf/bypass.h'));
  cpSync(
    join(root, 'test/fixtures/bpf/verifier/null_hash_lookup.bpf.c'),
    join(workspace, 'verifier/null_hash_lookup.bpf.c'),
  );
  try {
    return await runVsCodeTests({
      extensionDevelopmentPath: root,
      extensionTestsPath: join(root, 'out/test/extension/suite/index.js'),
      workspaceFolder: workspace,
      settings: { 'dfsEbpf.node': `local:${NODE}`, 'dfsEbpf.autoConnect': false, 'dfsEbpf.statusRefreshSeconds': 0.5 },
      extensionHostEnv: process.env.DFS_EBPF_MOCHA_RESULTS
        ? { DFS_EBPF_MOCHA_RESULTS: process.env.DFS_EBPF_MOCHA_RESULTS }
        : {},
    });
  } finally {
    rmSync(workspace, { recursive: true, force: true });
    await nodeDown({ name: NODE });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
