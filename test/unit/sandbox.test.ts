// The sandbox's verdicts (remote-agent/src/sandbox.ts), with stand-in children instead of the
// agent (no kernel, no root): every way a child can fail (a signal, a hang, the memory limit,
// an early exit, garbage or a wrongly shaped answer) is a coded BadObject that names what
// happened; a coded error from the child arrives with its own code; a good answer is returned
// as the caller's check accepts it; the child's log lines are re-logged under the request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, type LogEntry } from '../../protocol/src';
import { AgentError } from '../../remote-agent/src/errors';
import { AgentLog } from '../../remote-agent/src/log';
import { runSandboxed, type SandboxLimits } from '../../remote-agent/src/sandbox';

const LIMITS: SandboxLimits = { timeoutMs: 20_000, memoryMiB: 512 };
const job = { kind: 'check-bypass' as const, objectName: 'x.bpf.o' };

/** A stand-in child: reads the job and the object from stdin, then runs `body` (JS). */
function child(body: string): string[] {
  const script = `const c=[];process.stdin.on('data',d=>c.push(d));process.stdin.on('end',()=>{const input=Buffer.concat(c);${body}});`;
  return [process.execPath, '-e', script];
}

class CapturingLog extends AgentLog {
  readonly entries: LogEntry[] = [];
  override write(level: LogEntry['level'], tag: string, msg: string, opId?: number): void {
    this.entries.push({ ts: '', level, tag, msg, ...(opId === undefined ? {} : { opId }) });
  }
}

async function verdict(body: string, limits: SandboxLimits = LIMITS, log = new CapturingLog()): Promise<unknown> {
  return runSandboxed(job, Buffer.from('ELF-bytes'), (r) => r, log, 7, limits, { command: child(body) });
}

async function badObject(body: string, pattern: RegExp, limits?: SandboxLimits): Promise<void> {
  await assert.rejects(verdict(body, limits), (err: unknown) => {
    assert.ok(err instanceof AgentError, String(err));
    assert.equal(err.code, ErrorCode.BadObject);
    assert.match(err.message, pattern);
    assert.match(err.message, /^x\.bpf\.o: /);
    return true;
  });
}

test('a good answer comes back; the child saw the job line and the object bytes', async () => {
  const echo = `const nl=input.indexOf(10);process.stdout.write(JSON.stringify({ok:true,result:{job:JSON.parse(input.subarray(0,nl)),elf:input.subarray(nl+1).toString()}})+'\\n');`;
  assert.deepEqual(await verdict(echo), { job, elf: 'ELF-bytes' });
});

test('a crash is "the object crashed the loader (SIGSEGV)"', async () => {
  await badObject(`process.kill(process.pid,'SIGSEGV');`, /the object crashed the loader \(SIGSEGV\)/);
  await badObject(`process.abort();`, /the object crashed the loader \(SIGABRT\)/);
});

test('a hang is killed at the timeout', async () => {
  await badObject(`for(;;){}`, /did not finish within 1 s \(killed\)/, { timeoutMs: 1000, memoryMiB: 512 });
});

test('the memory limit holds, and running into it is named', async () => {
  // 64 MiB at a time, touched, until the data rlimit refuses: a native-side exhaustion.
  await badObject(
    `const k=[];for(;;){k.push(Buffer.alloc(64<<20,1));}`,
    /exhausted the loader's 256 MiB memory limit/,
    { timeoutMs: 20_000, memoryMiB: 256 },
  );
});

test('an early exit, garbage and a wrongly shaped answer are BadObjects', async () => {
  await badObject(`process.exit(3);`, /exited with status 3 before answering/);
  await badObject(`process.stdout.write('hello\\n');`, /answered garbage \(not JSON\)/);
  await badObject(`process.stdout.write('{"ok":true}\\n');`, /answered garbage/);
  await badObject(`process.stdout.write('{"ok":false,"error":{"code":12345,"message":"?"}}\\n');`, /answered garbage/);
  await assert.rejects(
    runSandboxed(job, Buffer.alloc(0), () => null, new CapturingLog(), 1, LIMITS, {
      command: child(`process.stdout.write('{"ok":true,"result":42}\\n');`),
    }),
    /answered garbage \(not a result of the expected shape\)/,
  );
});

test("the child's coded error keeps its code, message and detail", async () => {
  const err = `process.stdout.write(JSON.stringify({ok:false,error:{code:${ErrorCode.VerifierRejected},message:'rejected',detail:'log'}})+'\\n');`;
  await assert.rejects(verdict(err), (e: unknown) => {
    assert.ok(e instanceof AgentError);
    assert.deepEqual(e.toData(), { code: ErrorCode.VerifierRejected, message: 'rejected', detail: 'log' });
    return true;
  });
});

test("the child's log lines are re-logged under the request's opId; other stderr goes to the detail", async () => {
  const log = new CapturingLog();
  const body = `process.stderr.write(JSON.stringify({ts:'t',level:'info',tag:'verify',msg:'hello'})+'\\nnot a log line\\n');process.kill(process.pid,'SIGSEGV');`;
  await assert.rejects(verdict(body, LIMITS, log), (err: unknown) => {
    assert.ok(err instanceof AgentError);
    assert.equal(err.detail, 'not a log line');
    return true;
  });
  assert.deepEqual(
    log.entries.map((e) => [e.level, e.tag, e.msg, e.opId]),
    [['info', 'sandbox/verify', 'hello', 7]],
  );
});

test('at most two children run at once; the others wait their turn', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dfs-sandbox-test-'));
  try {
    // Each child marks itself running, counts the others, and answers with that count.
    const body = `const fs=require('fs'),p=require('path'),d=${JSON.stringify(dir)};
      fs.writeFileSync(p.join(d,String(process.pid)),'');
      const others=fs.readdirSync(d).length-1;
      setTimeout(()=>{fs.rmSync(p.join(d,String(process.pid)));process.stdout.write(JSON.stringify({ok:true,result:others})+'\\n');},300);`;
    const others = await Promise.all(Array.from({ length: 6 }, () => verdict(body)));
    assert.equal(others.length, 6);
    assert.ok(Math.max(...(others as number[])) <= 1, `children saw ${others.join(', ')} others running`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
