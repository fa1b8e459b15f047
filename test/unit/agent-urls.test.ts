// How the agent reads the endpoints of a JuiceFS daemon whose metadata engine has a password
// (remote-agent/src/juicefs.ts, policy.ts): with the password in the URL (user:password@, which
// JuiceFS masks in its own argv) or only in the daemon's environment (META_PASSWORD, as local
// test nodes do), the endpoint is found the same way, and nothing the agent returns carries the
// password.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type DiscoveredMount, metaUrlFromCmdline, publicMount, redactUrl } from '../../remote-agent/src/juicefs';
import { endpointOfUrl } from '../../remote-agent/src/policy';

const SECRET = 'S3cr:t/p@ss';

test('the meta URL and its endpoint, password in the URL or in the environment', () => {
  const forms: [string[], string, { host: string; port: number } | null][] = [
    // The env form: what a local test node's daemon shows (META_PASSWORD in its environment).
    [
      ['/x/juicefs mount -d --cache-dir /c --no-usage-report redis://127.0.0.1:6379/1 /mnt/dfs-ebpf/n', ''],
      'redis://127.0.0.1:6379/1',
      { host: '127.0.0.1', port: 6379 },
    ],
    // user:password@ as JuiceFS rewrites its argv, and as a daemon that does not rewrite it would show it.
    [
      ['/x/juicefs mount -d redis://default:****@10.0.0.5:6390/2 /m', ''],
      'redis://default:****@10.0.0.5:6390/2',
      { host: '10.0.0.5', port: 6390 },
    ],
    [
      ['juicefs', 'mount', `redis://:${SECRET}@10.0.0.6/3`, '/m'],
      `redis://:${SECRET}@10.0.0.6/3`,
      { host: '10.0.0.6', port: 6379 },
    ],
    [
      ['juicefs', 'mount', `rediss://u:${SECRET}@cache.lab:6380/0`, '/m'],
      `rediss://u:${SECRET}@cache.lab:6380/0`,
      { host: 'cache.lab', port: 6380 },
    ],
    // The Unix-socket form (bench's second mount): a URL, but no TCP endpoint to bypass.
    [
      ['juicefs', 'mount', '-d', 'unix:///var/lib/dfs-ebpf/nodes/n/redis-meta/redis.sock?db=1', '/m'],
      'unix:///var/lib/dfs-ebpf/nodes/n/redis-meta/redis.sock?db=1',
      null,
    ],
    [
      ['juicefs', 'mount', `unix://:${SECRET}@/run/redis.sock?db=1`, '/m'],
      `unix://:${SECRET}@/run/redis.sock?db=1`,
      null,
    ],
  ];
  for (const [argv, url, endpoint] of forms) {
    assert.equal(metaUrlFromCmdline(argv), url);
    assert.deepEqual(endpointOfUrl(url), endpoint, url);
  }
});

test('redaction removes every password form and keeps the rest', () => {
  const cases: [string, string][] = [
    ['redis://127.0.0.1:6379/1', 'redis://127.0.0.1:6379/1'],
    [`redis://:${SECRET}@10.0.0.1:6379/1`, 'redis://:***@10.0.0.1:6379/1'],
    [`redis://default:${SECRET}@10.0.0.1:6379/1`, 'redis://default:***@10.0.0.1:6379/1'],
    [`unix://:${SECRET}@/run/redis.sock?db=1`, 'unix://:***@/run/redis.sock?db=1'],
    [`mysql://jfs:${SECRET}@(db:3306)/juicefs`, 'mysql://jfs:***@(db:3306)/juicefs'],
    [
      `postgres://db:5432/jfs?sslmode=disable&password=${SECRET}`,
      'postgres://db:5432/jfs?sslmode=disable&password=***',
    ],
    [`redis://:${SECRET}@master,h1,h2:26379/2`, 'redis://:***@master,h1,h2:26379/2'],
    ['redis://user@10.0.0.1/1', 'redis://user@10.0.0.1/1'],
    ['unix:///run/redis.sock?db=1', 'unix:///run/redis.sock?db=1'],
  ];
  for (const [url, want] of cases) {
    assert.equal(redactUrl(url), want);
    assert.ok(!redactUrl(url).includes('S3cr'), url);
  }
});

test('what the agent returns about a mount never carries a password', () => {
  for (const metaUrl of [
    `redis://:${SECRET}@127.0.0.1:6379/1`,
    `unix://:${SECRET}@/run/redis.sock?db=1`,
    `postgres://u:${SECRET}@db/jfs?password=${SECRET}`,
  ]) {
    const m: DiscoveredMount = {
      mountpoint: '/mnt/x',
      volume: 'x',
      version: '1.4.2',
      meta: redactUrl(metaUrl),
      storage: 'redis',
      bucket: redactUrl(`redis://:${SECRET}@127.0.0.1:6380/0`),
      pid: 1,
      cgroup: '/sys/fs/cgroup/x',
      metaUrl,
      bucketUrl: `redis://:${SECRET}@127.0.0.1:6380/0`,
    };
    const out = JSON.stringify(publicMount(m));
    assert.ok(!out.includes('S3cr'), out);
    assert.ok(!out.includes('metaUrl') && !out.includes('bucketUrl'), out);
  }
});
