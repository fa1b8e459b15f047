// Register/stack state lookup in verifier logs (core/src/verifier/states.ts), as the log
// explorer's state pane uses it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stateAt, stateEntries } from '../../core/src/verifier/states';

const log = [
  '0: R1=ctx() R10=fp0',
  '; __u32 key = 0; @ x.bpf.c:17',
  '0: (bf) r6 = r1                       ; R1=ctx() R6=ctx()',
  '1: (b7) r1 = 0',
  '8: R0=map_value(map=m,ks=4,vs=8) R6=ctx() R10=fp0',
  '8: (79) r1 = *(u64 *)(r0 +0)',
];

test('an instruction with its own state, a full-state line, and the fallbacks', () => {
  assert.deepEqual(stateAt(log, 2), ['R1=ctx() R6=ctx()', 'after this instruction']);
  assert.deepEqual(stateAt(log, 4)[0], 'R0=map_value(map=m,ks=4,vs=8) R6=ctx() R10=fp0');
  assert.match(stateAt(log, 5)[1], /before insn 8 \(full state, log line 5\)/, 'the full state of the same insn above');
  assert.match(stateAt(log, 3)[1], /after insn 0 .*only changed registers/, 'the last printed state on the path');
  assert.deepEqual(stateAt([], 0), ['', 'no state printed']);
});

test('state entries split at spaces outside nested parentheses', () => {
  assert.deepEqual(stateEntries('R0=map_value(map=m,ks=4) R1=scalar(smin=0,var_off=(0x0; 0xf)) fp-8=0000????'), [
    { name: 'R0', value: 'map_value(map=m,ks=4)' },
    { name: 'R1', value: 'scalar(smin=0,var_off=(0x0; 0xf))' },
    { name: 'fp-8', value: '0000????' },
  ]);
});
