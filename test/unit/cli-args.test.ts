// The CLI's argv parser (cli/src/args.ts) and endpoint flags: values, flags, repeats, loud errors for typos.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { numberValue, parseArgs, UsageError, value } from '../../cli/src/args';
import { parseEndpoints } from '../../core/src/util/endpoints';

const spec = { json: {}, node: { value: true }, extra: { value: true, repeat: true }, rounds: { value: true } };

test('positionals, flags and values in any order', () => {
  const p = parseArgs(
    ['attach', '--json', 'bypass', '--node=n1', '--extra', '1.2.3.4:5', '--extra', '1.2.3.4:6'],
    spec,
  );
  assert.deepEqual(p.positionals, ['attach', 'bypass']);
  assert.ok(p.flags.has('json'));
  assert.equal(value(p, 'node'), 'n1');
  assert.deepEqual(p.values.get('extra'), ['1.2.3.4:5', '1.2.3.4:6']);
});

test('unknown options, missing values and repeats are usage errors', () => {
  assert.throws(() => parseArgs(['--jsn'], spec), UsageError);
  assert.throws(() => parseArgs(['--node'], spec), /needs a value/);
  assert.throws(() => parseArgs(['--node', '--json'], spec), /needs a value/);
  assert.throws(() => parseArgs(['--node', 'a', '--node', 'b'], spec), /twice/);
  assert.throws(() => parseArgs(['--json=1'], spec), /takes no value/);
});

test('numeric options are range-checked', () => {
  assert.equal(numberValue(parseArgs(['--rounds', '3'], spec), 'rounds', 1, 50), 3);
  assert.throws(() => numberValue(parseArgs(['--rounds', '0'], spec), 'rounds', 1, 50), /1\.\.50/);
  assert.throws(() => numberValue(parseArgs(['--rounds', 'x'], spec), 'rounds', 1, 50), UsageError);
});

test('endpoint lists from settings and flags are validated with the source named', () => {
  assert.deepEqual(parseEndpoints(['10.0.0.1:9000', ' 127.0.0.1:6379 '], '--extra'), [
    { host: '10.0.0.1', port: 9000 },
    { host: '127.0.0.1', port: 6379 },
  ]);
  for (const bad of ['host:1', '10.0.0.1', '10.0.0.1:0', '10.0.0.1:70000', '300.0.0.1:80']) {
    assert.throws(
      () => parseEndpoints([bad], 'setting dfsEbpf.bypass.extraEndpoints'),
      /dfsEbpf\.bypass\.extraEndpoints: ".*" is not/,
    );
  }
});
