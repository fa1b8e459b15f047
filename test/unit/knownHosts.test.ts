// known_hosts matching (core/src/ssh/knownHosts.ts) against OpenSSH's formats: plain and
// [host]:port names, patterns and negation, hashed entries, @revoked; and fingerprints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { checkHostKey, fingerprint, hostKeyName, keyTypeOf } from '../../core/src/ssh/knownHosts';

function blob(type: string, body: string | Buffer): Buffer {
  const t = Buffer.from(type);
  const b = Buffer.from(body);
  const len = (n: number): Buffer => {
    const x = Buffer.alloc(4);
    x.writeUInt32BE(n);
    return x;
  };
  return Buffer.concat([len(t.length), t, len(b.length), b]);
}
const keyA = blob('ssh-ed25519', 'A'.repeat(32));
const keyB = blob('ssh-ed25519', 'B'.repeat(32));
const line = (names: string, key: Buffer): string => `${names} ssh-ed25519 ${key.toString('base64')}`;

test('hostKeyName uses [host]:port except on port 22', () => {
  assert.equal(hostKeyName('10.0.0.2', 22), '10.0.0.2');
  assert.equal(hostKeyName('10.0.0.2', 2222), '[10.0.0.2]:2222');
});

test('a matching plain entry matches; a different key for the same host is a mismatch with its line', () => {
  const text = `# comment\n${line('10.213.0.2', keyA)}\n`;
  assert.deepEqual(checkHostKey(text, 'kh', '10.213.0.2', 22, keyA), { kind: 'match' });
  const v = checkHostKey(text, 'kh', '10.213.0.2', 22, keyB);
  assert.equal(v.kind, 'mismatch');
  assert.equal(v.kind === 'mismatch' && v.line, 2);
});

test('an unknown host is unknown, not a match', () => {
  assert.deepEqual(checkHostKey(line('other', keyA), 'kh', 'node', 22, keyA), { kind: 'unknown' });
});

test('port-qualified names only match that port', () => {
  const text = line('[node]:2222', keyA);
  assert.equal(checkHostKey(text, 'kh', 'node', 2222, keyA).kind, 'match');
  assert.equal(checkHostKey(text, 'kh', 'node', 22, keyA).kind, 'unknown');
});

test('patterns with wildcards and negation', () => {
  const text = line('*.lab,!bad.lab', keyA);
  assert.equal(checkHostKey(text, 'kh', 'n1.lab', 22, keyA).kind, 'match');
  assert.equal(checkHostKey(text, 'kh', 'bad.lab', 22, keyA).kind, 'unknown');
});

test('hashed entries (|1|salt|hmac) match the right name only', () => {
  const salt = Buffer.from('0123456789abcdefghij');
  const mac = createHmac('sha1', salt).update('[10.1.1.1]:2200').digest('base64');
  const text = line(`|1|${salt.toString('base64')}|${mac}`, keyA);
  assert.equal(checkHostKey(text, 'kh', '10.1.1.1', 2200, keyA).kind, 'match');
  assert.equal(checkHostKey(text, 'kh', '10.1.1.1', 22, keyA).kind, 'unknown');
  assert.equal(checkHostKey(text, 'kh', '10.1.1.1', 2200, keyB).kind, 'mismatch');
});

test('@revoked wins over a matching entry', () => {
  const text = `${line('node', keyA)}\n@revoked ${line('node', keyA)}\n`;
  assert.equal(checkHostKey(text, 'kh', 'node', 22, keyA).kind, 'revoked');
});

test('fingerprint and key type match OpenSSH conventions', () => {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const b = blob('ssh-ed25519', raw);
  assert.equal(keyTypeOf(b), 'ssh-ed25519');
  assert.match(fingerprint(b), /^SHA256:[A-Za-z0-9+/]{43}$/);
});
