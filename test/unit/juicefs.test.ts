// Reading JuiceFS's own configuration (remote-agent/src/juicefs.ts): mountinfo parsing,
// the metadata URL from a daemon's command line, password redaction, mountpoint normalization.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  metaUrlFromCmdline,
  normalizeMountpoint,
  parseJuiceFsMountpoints,
  redactUrl,
} from '../../remote-agent/src/juicefs';

test('only fuse.juicefs mounts are found, with octal escapes decoded', () => {
  const mi = [
    '36 25 0:32 / / rw,relatime shared:1 - ext4 /dev/vda rw',
    '90 36 0:45 / /mnt/dfs-ebpf/dfsnode0 rw,nosuid,nodev,relatime shared:50 - fuse.juicefs JuiceFS:dfsnode0 rw,user_id=0',
    '91 36 0:46 / /mnt/with\\040space rw,relatime shared:51 - fuse.juicefs JuiceFS:v2 rw',
    '92 36 0:47 / /mnt/other rw - fuse.sshfs host: rw',
  ].join('\n');
  assert.deepEqual(parseJuiceFsMountpoints(mi), ['/mnt/dfs-ebpf/dfsnode0', '/mnt/with space']);
});

test('the metadata URL is the first URL after "mount"', () => {
  const argv = ['/x/juicefs', 'mount', '-d', '--cache-dir', '/c', 'redis://127.0.0.1:6379/1', '/mnt/x', ''];
  assert.equal(metaUrlFromCmdline(argv), 'redis://127.0.0.1:6379/1');
  assert.equal(metaUrlFromCmdline(['juicefs', 'format', 'redis://h/1']), null);
  // What /proc/PID/cmdline really holds for a running JuiceFS: argv rewritten as one string.
  assert.equal(
    metaUrlFromCmdline(['/bin/juicefs mount -d --log /l redis://:****@127.0.0.1:6379/1 /mnt/x', '']),
    'redis://:****@127.0.0.1:6379/1',
  );
});

test('passwords are redacted, everything else kept', () => {
  assert.equal(redactUrl('redis://:secret@10.0.0.1:6379/1'), 'redis://:***@10.0.0.1:6379/1');
  assert.equal(redactUrl('mysql://user:p@ss@(db:3306)/jfs'), 'mysql://user:***@(db:3306)/jfs');
  assert.equal(redactUrl('redis://127.0.0.1:6379/1'), 'redis://127.0.0.1:6379/1');
});

test('a mountpoint typed with a trailing slash or doubled slashes names the mount', () => {
  assert.equal(normalizeMountpoint('/mnt/dfs-ebpf/n0/'), '/mnt/dfs-ebpf/n0');
  assert.equal(normalizeMountpoint('/mnt//dfs-ebpf/./n0///'), '/mnt/dfs-ebpf/n0');
  assert.equal(normalizeMountpoint('/mnt/dfs-ebpf/n0'), '/mnt/dfs-ebpf/n0');
  assert.equal(normalizeMountpoint('/'), '/');
  assert.equal(normalizeMountpoint('mnt/jfs'), null);
});
