// One "build for this node" path (issue 6, items 10 and 11) on a real local test node reached
// the way a remote node is: through an ~/.ssh/config alias. It proves that target resolution,
// not the spelling of the name, decides what is local (the alias looks like a local node name
// and still goes over SSH); that core's buildForNode builds against the NODE's vmlinux.h, the
// cache entry keyed by the release and BTF digest its agent reports; that a session asks for
// the digest once and for the BTF only when that cache entry is missing (a save asks nothing);
// and that verifying through that path puts the diagnostic on the failing line. Then, for
// every program of the verifier corpus verified on the node, the explorer's line for the
// failing instruction (LineSources) equals the diagnostic's.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelBtfRequest, type RequestSpec } from '../../protocol/src';
import { NodeSession } from '../../core/src/agent/session';
import { buildForNode } from '../../core/src/build/forNode';
import { vmlinuxCacheDir, type AgentRequester } from '../../core/src/build/vmlinux';
import { nullLogger } from '../../core/src/log';
import { kernelIsLocal, resolveTarget, type TargetEnv } from '../../core/src/ssh/target';
import { nodeDown, type LocalNode } from '../../core/src/testnode';
import { sourceOfLine } from '../../core/src/verifier/parse';
import { verifySourceOnNode, type SourceVerification, type VerifierDiagnostic } from '../../core/src/verifier/verify';
import { upNode } from '../support/node';
import { repoRoot } from '../support/repo';

const NAME = 'dfsvebuild';
/** Spelled like a local node name on purpose: the old CLI built such a name for this machine. */
const ALIAS = 'dfsvealias';
const corpus = join(repoRoot(), 'test/fixtures/bpf/verifier');
const scratch = mkdtempSync(join(tmpdir(), 'dfs-ve-build-'));
const home = join(scratch, 'home');
const cache = join(scratch, 'cache');
const ws = join(scratch, 'ws');
let node: LocalNode;
let env: TargetEnv;
const savedCache = process.env.XDG_CACHE_HOME;

/** A requester that records every request it passes on. */
function recording(session: NodeSession): AgentRequester & { calls: { method: string; params: unknown }[] } {
  const calls: { method: string; params: unknown }[] = [];
  return {
    calls,
    request<P, R>(spec: RequestSpec<P, R>, params: P): Promise<R> {
      calls.push({ method: spec.method, params });
      return session.request(spec, params);
    },
  };
}
const btfCalls = (r: ReturnType<typeof recording>): unknown[] =>
  r.calls.filter((c) => c.method === KernelBtfRequest.method).map((c) => c.params);

function openAlias(): Promise<NodeSession> {
  // The node's agent wrapper is the one thing an ssh config cannot say (the extension's
  // dfsEbpf.agentCommand setting); everything else comes from the alias.
  const target = resolveTarget(ALIAS, { agentCommand: node.agentCommand }, env);
  return NodeSession.open(target, { log: nullLogger, clientName: 'integration-test (alias)' });
}

before(async () => {
  node = await upNode(NAME);
  mkdirSync(join(home, '.ssh'), { recursive: true });
  mkdirSync(ws, { recursive: true });
  const config = [
    `Host ${ALIAS}`,
    `  HostName ${node.host}`,
    `  Port ${node.port}`,
    `  User ${node.user}`,
    `  IdentityFile ${node.identityFile}`,
    `  UserKnownHostsFile ${node.knownHostsFile}`,
    '',
  ].join('\n');
  writeFileSync(join(home, '.ssh', 'config'), config);
  env = { home, sshConfigText: () => readFileSync(join(home, '.ssh', 'config'), 'utf8') };
  // An empty vmlinux.h cache, so the first build must fetch the node's BTF (set after node up:
  // the test node keeps its JuiceFS binary under the same variable).
  process.env.XDG_CACHE_HOME = cache;
});

after(async () => {
  if (savedCache === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = savedCache;
  rmSync(scratch, { recursive: true, force: true });
  await nodeDown({ name: NAME });
});

test('target resolution says an ~/.ssh/config alias is remote, whatever its spelling', () => {
  assert.match(ALIAS, /^(local:)?[a-z][a-z0-9]{0,11}$/, 'the spelling the old CLI took for a local node');
  assert.equal(kernelIsLocal(ALIAS), false);
  assert.equal(kernelIsLocal(`local:${NAME}`), true);
  assert.equal(kernelIsLocal(NAME), true, 'a local test node runs on this kernel');
  const t = resolveTarget(ALIAS, {}, env);
  assert.equal(t.localNode, undefined);
  assert.deepEqual([t.host, t.port, t.user], [node.host, node.port, node.user]);
});

test('an alias is built against the node vmlinux.h: its cache entry, BTF fetched once, then only the digest', async () => {
  const fixture = join(corpus, 'null_hash_lookup.bpf.c');
  const btfDigest = createHash('sha256').update(readFileSync('/sys/kernel/btf/vmlinux')).digest('hex');
  const session = await openAlias();
  try {
    const agent = recording(session);
    const first = await buildForNode(agent, [fixture], { root: ws });
    assert.equal(first.kernel.from, 'node');
    assert.equal(first.kernel.release, session.info.kernel.release);
    // Same kernel here, so the digest equals this machine's: the proof is the key and the path taken.
    assert.equal(first.kernel.btfSha256, btfDigest);
    assert.equal(first.kernel.dir, vmlinuxCacheDir(session.info.kernel.release, btfDigest));
    assert.ok(first.kernel.dir.startsWith(join(cache, 'dfs-ebpf', 'vmlinux')), first.kernel.dir);
    assert.ok(existsSync(join(first.kernel.dir, 'vmlinux.h')));
    assert.deepEqual(btfCalls(agent), [{ digestOnly: true }, {}], 'digest, then the BTF the empty cache lacks');
    assert.ok(first.results[0]?.bytes && first.results[0].bytes.length > 0);
    const commands = JSON.parse(readFileSync(join(ws, 'compile_commands.json'), 'utf8')) as { arguments: string[] }[];
    assert.ok(commands.every((c) => c.arguments.includes(`-I${first.kernel.dir}`)));

    // Every later build and verification of the session (a save) asks nothing.
    const again = await buildForNode(agent, [fixture], { root: ws });
    assert.equal(again.kernel.dir, first.kernel.dir);
    const { outcome } = await verifySourceOnNode(agent, fixture, { root: ws });
    assert.equal(btfCalls(agent).length, 2);
    assert.equal(agent.calls.filter((c) => c.method === 'bpf/verify').length, 1);
    const expectLine =
      readFileSync(fixture, 'utf8')
        .split('\n')
        .findIndex((l) => l.includes('EXPECT: null-check')) + 1;
    assert.equal(outcome?.ok, false);
    assert.equal(outcome?.diagnostics[0]?.line, expectLine);
    assert.equal(outcome?.kernel, release());
  } finally {
    session.close();
  }

  // A new connection with the cache warm: the digest only, no BTF.
  const next = await openAlias();
  try {
    const agent = recording(next);
    const built = await buildForNode(agent, [fixture], { root: ws });
    assert.equal(built.kernel.dir, vmlinuxCacheDir(next.info.kernel.release, btfDigest));
    assert.deepEqual(btfCalls(agent), [{ digestOnly: true }]);
  } finally {
    next.close();
  }
});

test('every corpus program verified on the node: the explorer line of the failing instruction is the diagnostic line', async () => {
  const session = await openAlias();
  let located = 0;
  try {
    for (const file of readdirSync(corpus).filter((f) => f.endsWith('.bpf.c'))) {
      const { outcome }: SourceVerification = await verifySourceOnNode(session, join(corpus, file), {
        root: ws,
        includeDirs: [corpus],
      });
      assert.ok(outcome, `${file} compiles`);
      for (const p of outcome.programs) {
        const error = p.verdict.error;
        if (!error) continue;
        const explorer = sourceOfLine(p.lines, error.logLine);
        const diag: VerifierDiagnostic | undefined = outcome.diagnostics.find((d) => d.program === p.verdict.name);
        assert.deepEqual(explorer, error.location, `${file} ${p.verdict.name}: explorer and verdict`);
        if (!error.location) continue;
        assert.equal(
          sourceOfLine(p.lines, error.logLine)?.line,
          diag?.line,
          `${file} ${p.verdict.name}: explorer and diagnostic`,
        );
        located++;
      }
    }
  } finally {
    session.close();
  }
  assert.ok(located >= 20, `${located} located rejections compared`);
});
