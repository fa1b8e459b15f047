// Build and verify against a real local test node, through the CLI contract (DESIGN.md §7)
// and the core API: `dfs-ebpf build` writes objects, diagnostics and a compile_commands.json
// that clangd accepts; `dfs-ebpf verify` reports accepted programs with real stats and the
// failing line of a rejected one; bad input (not ELF, another architecture, no programs), a
// verifier log over 16 MiB and a node that goes away mid-verify give clear results, never a hang.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCode, VerifyRequest } from '../../protocol/src';
import { compileBpf } from '../../core/src/build/clang';
import { localVmlinuxDir } from '../../core/src/build/vmlinux';
import { DfsError } from '../../core/src/errors';
import { nodeDown } from '../../core/src/testnode';
import { verifyObjectOnNode } from '../../core/src/verifier/verify';
import { bpfPrograms } from '../support/kernel';
import { openSession, upNode } from '../support/node';
import { repoRoot } from '../support/repo';

const NAME = 'dfsitvf';
const cliPath = (): string => join(repoRoot(), 'dist/cli/main.js');
const ws = mkdtempSync(join(tmpdir(), 'dfs-verify-ws-'));

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}
async function cli(cwd: string, ...args: string[]): Promise<CliResult> {
  try {
    const r = await promisify(execFile)(process.execPath, [cliPath(), ...args], { cwd, maxBuffer: 256 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

before(async () => {
  await upNode(NAME);
  mkdirSync(join(ws, 'bpf'));
  cpSync(join(repoRoot(), 'bpf/bypass.bpf.c'), join(ws, 'bpf/bypass.bpf.c'));
  cpSync(join(repoRoot(), 'bpf/bypass.h'), join(ws, 'bpf/bypass.h'));
});
after(async () => {
  rmSync(ws, { recursive: true, force: true });
  await nodeDown({ name: NAME });
});

test('build: objects, compiler diagnostics in the contract shape, and a compile_commands.json clangd accepts', async () => {
  const ok = await cli(ws, 'build', '--json');
  assert.equal(ok.code, 0, ok.stderr);
  const doc = JSON.parse(ok.stdout) as { objects: { source: string; object: string }[]; diagnostics: unknown[] };
  assert.deepEqual(
    doc.objects.map((o) => o.source),
    ['bypass.bpf.c'],
  );
  assert.ok(existsSync(doc.objects[0]?.object ?? ''), 'object written');
  assert.deepEqual(doc.diagnostics, []);

  // clangd reads .bpf.c files with the BPF flags: no errors on valid code, errors without them.
  const cc = JSON.parse(readFileSync(join(ws, 'compile_commands.json'), 'utf8')) as { arguments: string[] }[];
  assert.ok(cc[0]?.arguments.includes('bpf'), '-target bpf recorded');
  const withDb = execFileSync('sh', ['-c', 'clangd --check=bpf/bypass.bpf.c 2>&1'], { cwd: ws, encoding: 'utf8' });
  assert.match(withDb, /All checks completed, 0 errors/);
  rmSync(join(ws, 'compile_commands.json'));
  const withoutDb = execFileSync('sh', ['-c', 'clangd --check=bpf/bypass.bpf.c 2>&1 || true'], {
    cwd: ws,
    encoding: 'utf8',
  });
  assert.doesNotMatch(withoutDb, /All checks completed, 0 errors/, 'without the database clangd does see errors');

  const broken = join(ws, 'bpf/broken.bpf.c');
  writeFileSync(broken, '#include "vmlinux.h"\nint oops(void) { return undeclared_thing; }\n');
  try {
    const bad = await cli(ws, 'build', 'bpf/broken.bpf.c', '--json');
    assert.notEqual(bad.code, 0);
    assert.match(
      bad.stderr.trim(),
      /^dfs-ebpf: 1 of 1 sources do not compile; first: bpf\/broken\.bpf\.c:2: .*undeclared_thing/,
    );
    const d = (JSON.parse(bad.stdout) as { diagnostics: Record<string, unknown>[] }).diagnostics[0];
    assert.deepEqual(
      { file: d?.file, line: d?.line, severity: d?.severity, program: d?.program, insn: d?.insn },
      { file: 'bpf/broken.bpf.c', line: 2, severity: 'error', program: null, insn: null },
    );
    assert.equal(typeof d?.column, 'number');
  } finally {
    rmSync(broken);
  }
});

test('verify: the bypass is accepted by the node kernel, with real instruction and state counts', async () => {
  const r = await cli(ws, 'verify', 'bpf/bypass.bpf.c', '--node', `local:${NAME}`, '--json');
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as {
    ok: boolean;
    programs: { name: string; verdict: string; insns_processed: number; states: number }[];
    diagnostics: unknown[];
    log: string;
  };
  assert.equal(doc.ok, true);
  assert.deepEqual(doc.programs.map((p) => `${p.name}:${p.verdict}`).sort(), [
    'bypass_redirect:accepted',
    'bypass_skmsg:accepted',
    'bypass_sockops:accepted',
  ]);
  for (const p of doc.programs) {
    // bypass_skmsg is the 5-instruction stub that tail-calls bypass_redirect.
    assert.ok(p.insns_processed >= (p.name === 'bypass_skmsg' ? 3 : 10), `${p.name} processed ${p.insns_processed}`);
    assert.ok(p.states >= 0);
  }
  assert.match(doc.log, /processed \d+ insns/);
  assert.deepEqual(doc.diagnostics, []);
});

test('bad objects get clear coded errors: not ELF, another architecture, no programs', async () => {
  const session = await openSession(NAME);
  try {
    const expectBad = async (object: Buffer, re: RegExp): Promise<void> => {
      await assert.rejects(
        () => verifyObjectOnNode(session, object, { objectName: 'x.o' }),
        (e: unknown) => e instanceof DfsError && e.code === ErrorCode.BadObject && re.test(e.message),
      );
    };
    await expectBad(Buffer.from('definitely not an ELF'), /not a loadable BPF object/);
    await expectBad(readFileSync('/bin/true'), /not a loadable BPF object/);
    const none = await compileBpf(join(repoRoot(), 'test/fixtures/bpf/verify/no_programs.bpf.c'), join(ws, 'obj'), {
      vmlinuxDir: await localVmlinuxDir(),
    });
    assert.ok(none.ok, none.stderr);
    await expectBad(readFileSync(none.object), /has no BPF programs/);
  } finally {
    session.close();
  }
});

test('a verifier log over 16 MiB arrives whole and parses; nothing stays loaded', { timeout: 180_000 }, async (t) => {
  const big = await compileBpf(join(repoRoot(), 'test/fixtures/bpf/verify/big_log.bpf.c'), join(ws, 'obj'), {
    vmlinuxDir: await localVmlinuxDir(),
  });
  assert.ok(big.ok, big.stderr);
  const session = await openSession(NAME);
  try {
    const t0 = Date.now();
    const out = await verifyObjectOnNode(session, readFileSync(big.object), {
      objectName: 'big_log.bpf.o',
      logLevel: 2,
    });
    const p = out.programs[0];
    assert.ok(p);
    assert.ok(p.load.logBytes > 16 << 20, `log is ${p.load.logBytes} bytes`);
    assert.equal(p.log.length, p.load.logBytes, 'the whole log arrived');
    assert.equal(p.verdict.verdict, 'accepted');
    assert.ok((p.verdict.insnsProcessed ?? 0) > 40_000);
    assert.match(p.log.slice(-400), /processed \d+ insns/, 'the tail (stats) is there: not truncated');
    t.diagnostic(
      `${(p.load.logBytes / (1 << 20)).toFixed(1)} MiB log, ${p.log.split('\n').length} lines, gzip ${(p.load.logGz.length / (1 << 20)).toFixed(1)} MiB on the wire, ${Date.now() - t0} ms`,
    );
  } finally {
    session.close();
  }
  assert.ok(!bpfPrograms().some((x) => x.name === 'long_walk'), 'verify leaves nothing loaded');
});

test('a node that goes away mid-verify gives ConnectionLost promptly, never a hang', { timeout: 120_000 }, async () => {
  const big = await compileBpf(join(repoRoot(), 'test/fixtures/bpf/verify/big_log.bpf.c'), join(ws, 'obj'), {
    vmlinuxDir: await localVmlinuxDir(),
  });
  const session = await openSession(NAME);
  const pending = session.request(VerifyRequest, {
    object: readFileSync(big.object).toString('base64'),
    objectName: 'big.o',
    logLevel: 2,
  });
  await new Promise((r) => setTimeout(r, 300)); // the agent is busy in the verifier now
  const t0 = Date.now();
  process.kill(session.info.agentPid, 'SIGKILL');
  await assert.rejects(pending, (e: unknown) => e instanceof DfsError && e.code === ErrorCode.ConnectionLost);
  assert.ok(Date.now() - t0 < 10_000, 'rejected within seconds');
});

test('verify: a fault in the second program of an object is reported on its line, with a one-line reason', async () => {
  const dir = join(ws, 'verifier');
  mkdirSync(dir, { recursive: true });
  cpSync(join(repoRoot(), 'test/fixtures/bpf/verifier/two_programs.bpf.c'), join(dir, 'two_programs.bpf.c'));
  const source = readFileSync(join(dir, 'two_programs.bpf.c'), 'utf8').split('\n');
  const expectLine = source.findIndex((l) => l.includes('EXPECT: null-check in forget_closes')) + 1;
  assert.ok(expectLine > 0);
  const r = await cli(ws, 'verify', 'verifier/two_programs.bpf.c', '--node', `local:${NAME}`, '--json');
  assert.equal(r.code, 1);
  assert.match(
    r.stderr.trim(),
    new RegExp(
      `^dfs-ebpf: forget_closes rejected at verifier/two_programs\\.bpf\\.c:${expectLine}: .+ \\[VerifierRejected\\]$`,
    ),
  );
  const doc = JSON.parse(r.stdout) as {
    ok: boolean;
    programs: { name: string; verdict: string }[];
    diagnostics: {
      file: string;
      line: number;
      column: number;
      severity: string;
      message: string;
      program: string;
      insn: number;
    }[];
  };
  assert.equal(doc.ok, false);
  assert.deepEqual(
    doc.programs.map((p) => p.verdict),
    ['accepted', 'rejected'],
    'the first program is still verified and accepted',
  );
  const d = doc.diagnostics[0];
  assert.ok(d);
  assert.deepEqual(
    [d.file, d.line, d.severity, d.program],
    ['verifier/two_programs.bpf.c', expectLine, 'error', 'forget_closes'],
  );
  assert.equal(typeof d.insn, 'number');
  assert.match(d.message, /map_value_or_null|NULL/i);
});
