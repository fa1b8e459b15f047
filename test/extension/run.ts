// Runs the extension tier: brings up a local test node for it and a bare node (a fresh Debian
// server, for "Install agent on node…", reached through an ~/.ssh/config Host block in a HOME
// of the extension host's own), prepares a workspace holding a copy of the reference bypass
// sources (so "Attach bypass" builds the workspace's own program) and a buggy program from the
// verifier corpus, runs the mocha suite inside code-server through @vscode/test-electron, and
// takes the nodes down again. Exit code: the suite's.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeDown, nodeUp } from '../../core/src/testnode';
import { bareNodeDown, bareNodeUp } from '../../core/src/testnode/bare';
import { runVsCodeTests } from '../harness/runVsCodeTests';
import { repoRoot } from '../support/repo';

const NODE = 'dfsitext';
const BARE = 'dfsitextb';

async function main(): Promise<number> {
  const root = repoRoot();
  await nodeUp({ name: NODE, agentBundleDir: join(root, 'dist/agent') });
  const bare = await bareNodeUp({ name: BARE });
  const home = mkdtempSync(join(tmpdir(), 'dfs-ext-home-'));
  mkdirSync(join(home, '.ssh'), { mode: 0o700 });
  writeFileSync(join(home, '.ssh', 'config'), bare.sshConfig);
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
      extensionHostEnv: {
        ...(process.env.DFS_EBPF_MOCHA_RESULTS ? { DFS_EBPF_MOCHA_RESULTS: process.env.DFS_EBPF_MOCHA_RESULTS } : {}),
        // ~/.ssh/config names the bare node; the client's state and caches stay this user's.
        HOME: home,
        XDG_STATE_HOME: process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'),
        XDG_CACHE_HOME: process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
        DFS_EBPF_TEST_BARE: JSON.stringify({
          name: bare.name,
          password: bare.password,
          ssh: `${bare.user}@${bare.host}:${bare.port}`,
        }),
      },
    });
  } finally {
    rmSync(workspace, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
    await bareNodeDown({ name: BARE });
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
