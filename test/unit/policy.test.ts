// The bypass policy (remote-agent/src/policy.ts): endpoints parsed from JuiceFS metadata and
// bucket URLs, and the byte layout of policy map keys (struct bypass_endpoint).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPolicy, endpointOfUrl, policyKey, policyValue } from '../../remote-agent/src/policy';

test('endpoints of the URL schemes JuiceFS uses', () => {
  assert.deepEqual(endpointOfUrl('redis://127.0.0.1:6379/1'), { host: '127.0.0.1', port: 6379 });
  assert.deepEqual(endpointOfUrl('redis://:s3cr/et@10.0.0.5/2'), { host: '10.0.0.5', port: 6379 });
  assert.deepEqual(endpointOfUrl('rediss://user:pw@cache.lab:6380/0'), { host: 'cache.lab', port: 6380 });
  assert.deepEqual(endpointOfUrl('mysql://u:p@(10.0.0.9:3307)/juicefs'), { host: '10.0.0.9', port: 3307 });
  assert.deepEqual(endpointOfUrl('postgres://u:p@db:5432/jfs?sslmode=disable'), { host: 'db', port: 5432 });
  assert.deepEqual(endpointOfUrl('http://minio.lab:9000/bucket'), { host: 'minio.lab', port: 9000 });
  assert.deepEqual(endpointOfUrl('https://s3.example.com/bucket'), { host: 's3.example.com', port: 443 });
});

test('local-only schemes have no endpoint', () => {
  for (const u of [
    'file:///var/jfs/',
    'sqlite3:///tmp/jfs.db',
    'badger:///tmp/b',
    'unix:///run/redis.sock',
    'not a url',
    '',
  ]) {
    assert.equal(endpointOfUrl(u), null, u);
  }
});

test('buildPolicy tags sources, resolves names and drops duplicates', async () => {
  const eps = await buildPolicy('redis://127.0.0.1:6379/1', 'redis://localhost:6380/0', [
    { host: '127.0.0.1', port: 6379 },
    { host: '10.0.0.1', port: 9000 },
  ]);
  assert.deepEqual(eps, [
    { host: '127.0.0.1', port: 6379, source: 'meta' },
    { host: '127.0.0.1', port: 6380, source: 'object' },
    { host: '10.0.0.1', port: 9000, source: 'extra' },
  ]);
});

test('policy key: ip4 in network order, port in host (little-endian) order', () => {
  const k = policyKey({ host: '127.0.0.1', port: 6379 });
  assert.deepEqual([...k], [127, 0, 0, 1, 0xeb, 0x18, 0, 0]);
  assert.equal(policyValue().readUInt32LE(0), 1);
  assert.equal(policyValue().length, 8);
});
