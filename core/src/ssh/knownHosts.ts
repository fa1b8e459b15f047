/**
 * known_hosts checking, done by us before authentication (ssh2 calls hostVerifier during key
 * exchange). Understands OpenSSH's format: comma-separated host patterns with `*`/`?` and
 * negation, `[host]:port` for non-22 ports, hashed entries (`|1|salt|hmac`), and the
 * `@revoked` / `@cert-authority` markers (CA lines are ignored: we do not do host certs).
 */

import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

export type HostKeyVerdict =
  | { kind: 'match' }
  | { kind: 'mismatch'; knownTypes: string[]; file: string; line: number }
  | { kind: 'unknown' }
  | { kind: 'revoked'; file: string; line: number };

interface Entry {
  marker: '' | '@revoked' | '@cert-authority';
  patterns: string;
  keyType: string;
  key: Buffer;
  line: number;
}

function parse(text: string): Entry[] {
  const out: Entry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const f = line.split(/\s+/);
    let marker: Entry['marker'] = '';
    if (f[0] === '@revoked' || f[0] === '@cert-authority') marker = f.shift() as Entry['marker'];
    const [patterns, keyType, b64] = f;
    if (!patterns || !keyType || !b64) return;
    out.push({ marker, patterns, keyType, key: Buffer.from(b64, 'base64'), line: i + 1 });
  });
  return out;
}

/** The name OpenSSH looks up: `host` on port 22, else `[host]:port`. */
export function hostKeyName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.') +
      '$',
    'i',
  );
  return re.test(name);
}

function hashedMatch(pattern: string, name: string): boolean {
  // |1|base64(salt)|base64(HMAC-SHA1(salt, name))
  const [, kind, salt, hash] = pattern.split('|');
  if (kind !== '1' || !salt || !hash) return false;
  const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
  return mac === hash;
}

function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|')) return hashedMatch(patterns, name);
  let matched = false;
  for (const p of patterns.split(',')) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) {
      matched = true;
    }
  }
  return matched;
}

/** Check the key a server presented (its SSH wire blob) against known_hosts text. */
export function checkHostKey(text: string, file: string, host: string, port: number, key: Buffer): HostKeyVerdict {
  const name = hostKeyName(host, port);
  const entries = parse(text).filter((e) => e.marker !== '@cert-authority' && patternsMatch(e.patterns, name));
  const revoked = entries.find((e) => e.marker === '@revoked' && e.key.equals(key));
  if (revoked) return { kind: 'revoked', file, line: revoked.line };
  const plain = entries.filter((e) => e.marker === '');
  if (plain.some((e) => e.key.equals(key))) return { kind: 'match' };
  const first = plain[0];
  if (first) return { kind: 'mismatch', knownTypes: plain.map((e) => e.keyType), file, line: first.line };
  return { kind: 'unknown' };
}

export function checkHostKeyFile(file: string, host: string, port: number, key: Buffer): HostKeyVerdict {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { kind: 'unknown' }; // no known_hosts file: nothing is known
  }
  return checkHostKey(text, file, host, port, key);
}

/** OpenSSH-style fingerprint of a key blob: `SHA256:base64-without-padding`. */
export function fingerprint(key: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
}

/** The key type named inside an SSH key blob (string length-prefixed at offset 0). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const n = key.readUInt32BE(0);
  return key.subarray(4, 4 + n).toString('latin1');
}
