// Faults and bad input on a real local test node: the agent SIGKILLed or the SSH connection
// closed while the bypass is attached and I/O runs (the kernel must hold nothing of ours
// within 2 s, JuiceFS must keep working, no file may be lost or corrupted); a wrong or
// unknown host key refused before authentication; a malformed object, a verifier rejection
// and a missing kernel feature answered with clear, coded errors while the agent keeps serving.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BypassAttachRequest, BypassStatusRequest, ErrorCode } from '../../protocol/src';
import type { NodeSession } from '../../core/src/agent/session';
import { compileBpf } from '../../core/src/build/clang';
import { DfsError } from '../../core/src/errors';
import { nodeDown, type LocalNode } from '../../core/src/testnode';
import { bpfLinks, bpfPrograms, waitFor } from '../support/kernel';
import { backgroundIo, clean, corruptFiles, dropCaches, openSession, upNode } from '../support/node';
import { repoRoot } from '../support/repo';

const NAME = 'dfsitft';
let node: LocalNode;
const scratch = mkdtempSync(join(tmpdir(), 'dfs-faults-'));

before(async () => {
  node = await upNode(NAME);
});
after(async () => {
  await nodeDown({ name: NAME });
});

function liveOf(progIds: number[], linkIds: number[]): string[] {
  const progs = new Set(bpfPrograms().map((p) => p.id));
  const links = new Set(bpfLinks().map((l) => l.id));
  return [
    ...progIds.filter((id) => progs.has(id)).map((id) => `prog ${id}`),
    ...linkIds.filter((id) => links.has(id)).map((id) => `link ${id}`),
  ];
}

async function killWhileAttached(t: TestContext, kill: (s: NodeSession) => void, dirName: string): Promise<void> {
  const session = await openSession(NAME);
  const st = await session.request(BypassAttachRequest, {});
  const progIds = st.programs.map((p) => p.id);
  const linkIds = st.programs.flatMap((p) => (p.linkId ? [p.linkId] : []));
  assert.equal(liveOf(progIds, linkIds).length, progIds.length + linkIds.length, 'attached before the fault');
  const dir = join(node.mountpoint, dirName);
  const io = backgroundIo(dir);
  await new Promise((r) => setTimeout(r, 1500)); // I/O is flowing through the bypass
  assert.ok(
    (await session.request(BypassStatusRequest, {})).counters.redirected_msgs > 0,
    'traffic went through the bypass',
  );

  const closed = new Promise<string>((r) => session.onClose(r));
  kill(session);
  const took = await waitFor(
    () => liveOf(progIds, linkIds).length === 0,
    2000,
    `programs and links ${liveOf(progIds, linkIds).join(', ')} released`,
  );
  assert.ok(took <= 2000);
  t.diagnostic(`programs and links released ${took} ms after the fault`);
  assert.match(await closed, /./, 'the client learned that the session ended');

  await new Promise((r) => setTimeout(r, 1000)); // JuiceFS keeps working after the fault
  const written = await io.stop();
  assert.ok(written.length >= 64, `background I/O continued (${written.length} files)`);
  await dropCaches();
  assert.deepEqual(await corruptFiles(written), [], 'no file lost or corrupted');
  assert.ok(!bpfPrograms().some((p) => p.name?.startsWith('bypass_')), 'no bypass program of anyone is left');
  await clean(dir);
}

test(
  'SIGKILL of the agent while attached: nothing of ours stays in the kernel (within 2 s), files intact',
  { timeout: 120_000 },
  async (t) => {
    await killWhileAttached(t, (s) => process.kill(s.info.agentPid, 'SIGKILL'), 'it-sigkill');
  },
);

test(
  'closing the SSH connection while attached: nothing of ours stays in the kernel (within 2 s), files intact',
  { timeout: 120_000 },
  async (t) => {
    await killWhileAttached(t, (s) => s.ssh.close(), 'it-sshclose');
  },
);

function sshdLogSize(): number {
  return statSync(join('/var/lib/dfs-ebpf/nodes', NAME, 'logs/sshd.log')).size;
}
function sshdLogSince(offset: number): string {
  return readFileSync(join('/var/lib/dfs-ebpf/nodes', NAME, 'logs/sshd.log'))
    .subarray(offset)
    .toString('utf8');
}

test('a wrong host key is refused before authentication', async () => {
  const other = join(scratch, 'other_host_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
  const [type, b64] = readFileSync(`${other}.pub`, 'utf8').split(' ');
  const known = join(scratch, 'known_hosts_wrong');
  writeFileSync(known, `${node.host} ${type} ${b64}\n`);
  const logAt = sshdLogSize();
  let authStarted = false;
  await assert.rejects(
    () => openSession(NAME, { knownHostsFile: known, onAuthStart: () => (authStarted = true) }),
    (e: unknown) => {
      assert.ok(e instanceof DfsError, String(e));
      assert.equal(e.code, ErrorCode.HostKeyMismatch);
      assert.match(e.message, /does not match/);
      assert.match(e.message, new RegExp(known.replace(/[/.]/g, '\\$&')));
      assert.match(e.message, /SHA256:/);
      return true;
    },
  );
  assert.equal(authStarted, false, 'no authentication was attempted');
  await new Promise((r) => setTimeout(r, 300));
  const log = sshdLogSince(logAt);
  assert.doesNotMatch(log, /publickey|Accepted|Failed|Postponed/, 'sshd saw no credentials');
});

test('an unknown host is refused before authentication', async () => {
  const known = join(scratch, 'known_hosts_empty');
  writeFileSync(known, '');
  let authStarted = false;
  await assert.rejects(
    () => openSession(NAME, { knownHostsFile: known, onAuthStart: () => (authStarted = true) }),
    (e: unknown) => e instanceof DfsError && e.code === ErrorCode.HostKeyUnknown && /is not in/.test(e.message),
  );
  assert.equal(authStarted, false);
});

test(
  'bad objects, a verifier rejection and a missing kernel feature get coded errors; the agent keeps serving',
  { timeout: 120_000 },
  async () => {
    const session = await openSession(NAME);
    try {
      const expect = async (object: Buffer, code: ErrorCode, message: RegExp): Promise<DfsError> => {
        const err = await session
          .request(BypassAttachRequest, { object: object.toString('base64'), objectName: 'x.bpf.o' })
          .then(
            () => assert.fail('attach should fail'),
            (e: unknown) => e,
          );
        assert.ok(err instanceof DfsError, String(err));
        assert.equal(err.code, code, err.message);
        assert.match(err.message, message);
        assert.equal(
          (await session.request(BypassStatusRequest, {})).attached,
          false,
          'nothing attached, agent still serving',
        );
        return err;
      };
      await expect(Buffer.from('this is not an ELF file at all'), ErrorCode.BadObject, /not a loadable BPF object/);
      await expect(readFileSync('/bin/true'), ErrorCode.BadObject, /not a loadable BPF object/);

      const fixtures = join(repoRoot(), 'test/fixtures/bpf/bypass');
      const build = async (file: string): Promise<Buffer> => {
        const r = await compileBpf(join(fixtures, file), join(scratch, 'obj'), {
          includeDirs: [join(repoRoot(), 'bpf')],
        });
        assert.ok(r.ok, r.stderr);
        return readFileSync(r.object);
      };
      const rejected = await expect(await build('rejected.bpf.c'), ErrorCode.VerifierRejected, /verifier rejected/);
      assert.match(rejected.detail ?? '', /invalid mem access 'map_value_or_null'/);
      assert.match(rejected.detail ?? '', /@ rejected\.bpf\.c:\d+/);

      const fentry = await expect(
        await build('with_fentry.bpf.c'),
        ErrorCode.KernelFeatureMissing,
        /trace_sendmsg.*fentry.*refuses/,
      );
      assert.match(fentry.message, /tp_btf/);
      assert.ok(!bpfPrograms().some((p) => p.name?.startsWith('bypass_')), 'a failed attach leaves nothing loaded');
    } finally {
      session.close();
    }
  },
);
