// core/src/btf on damaged bytes: the BTF of the map inspector's fixture (maps.bpf.c, compiled
// here) truncated at every offset, its type section cut at every offset (header adjusted, so
// the cut lands inside records and leaves dangling references), seeded bit flips and
// interesting words written over it (the seed is printed: a failure replays exactly), huge
// counts, and damaged ELF objects around it. Whatever parses is then used whole (every type's
// name, size, codec on random bytes and back, shape and columns). The only error allowed
// anywhere is a DfsError(BadRequest); never a RangeError, a TypeError or a hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../../core/src/errors';
import { Btf, BtfKind, codecFor, elfSection, flattenColumns, parseBtf, shapeOf } from '../../core/src/btf';
import { mutate, Rng } from '../support/damage';
import { compileMapsFixture } from '../support/mapsFixture';

function compileFixture(): Buffer {
  const fixture = compileMapsFixture();
  fixture.dispose();
  return fixture.elf;
}

const object = compileFixture();
const blob = Uint8Array.from(elfSection(object, '.BTF'));
const header = new DataView(blob.buffer);
const typeLen = header.getUint32(12, true);
const strOff = header.getUint32(16, true);
const strLen = header.getUint32(20, true);

/** Runs `fn`; any error but a DfsError(BadRequest) fails, naming `what`. Returns whether it succeeded. */
function onlyBadRequest(what: string, fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (err instanceof DfsError && err.code === ErrorCode.BadRequest) return false;
    assert.fail(`${what}: threw ${err instanceof Error ? `${err.name}: ${err.message}\n${err.stack}` : String(err)}`);
  }
}

/** Uses every type of a parsed BTF the way the inspector would. */
function useWhole(btf: Btf, rng: Rng, what: string): void {
  for (let id = 0; id < btf.count; id++) {
    onlyBadRequest(`${what}: name of ${id}`, () => void btf.typeName(id));
    onlyBadRequest(`${what}: size of ${id}`, () => void btf.sizeOf(id));
    onlyBadRequest(`${what}: codec of ${id}`, () => {
      const codec = codecFor(btf, id);
      if (codec.size > 1 << 16) return;
      const bytes = Uint8Array.from({ length: codec.size }, () => rng.int(256));
      const json = codec.decode(bytes);
      onlyBadRequest(`${what}: encode of ${id}`, () => void codec.decode(codec.encode(json, 'value')));
    });
    onlyBadRequest(`${what}: shape of ${id}`, () => void flattenColumns(shapeOf(btf, id)));
  }
}

/** Byte offset (in the blob) of each type record. */
function recordOffsets(): number[] {
  const extra = (kind: number, vlen: number): number =>
    [1, 14, 17].includes(kind)
      ? 4
      : kind === 3
        ? 12
        : [4, 5, 15, 19].includes(kind)
          ? vlen * 12
          : [6, 13].includes(kind)
            ? vlen * 8
            : 0;
  const out: number[] = [];
  for (let at = 24; at < 24 + typeLen;) {
    out.push(at);
    const info = header.getUint32(at + 4, true);
    at += 12 + extra((info >>> 24) & 0x1f, info & 0xffff);
  }
  return out;
}

test('the intact fixture BTF parses and is usable whole', () => {
  const btf = parseBtf(blob);
  assert.ok(btf.count > 50);
  useWhole(btf, new Rng(1), 'intact');
});

test('truncated at every offset: a DfsError each time', () => {
  for (let n = 0; n < blob.length; n++) {
    assert.equal(
      onlyBadRequest(`truncated to ${n}`, () => void parseBtf(blob.subarray(0, n))),
      false,
      `truncated to ${n} parsed`,
    );
  }
});

test('type section cut at every offset, header adjusted: parses or refuses, never throws anything else', (t) => {
  const strings = blob.subarray(24 + strOff, 24 + strOff + strLen);
  let parsed = 0;
  for (let cut = 0; cut <= typeLen; cut++) {
    const b = new Uint8Array(24 + cut + strLen);
    b.set(blob.subarray(0, 24 + cut));
    b.set(strings, 24 + cut);
    const v = new DataView(b.buffer);
    v.setUint32(12, cut, true);
    v.setUint32(16, cut, true);
    if (onlyBadRequest(`cut at ${cut}`, () => useWhole(parseBtf(b), new Rng(cut), `cut at ${cut}`))) parsed++;
  }
  t.diagnostic(`${typeLen + 1} cuts, ${parsed} parsed (cuts between records, before any reference dangles)`);
});

test('seeded bit flips and interesting words: only DfsError(BadRequest)', (t) => {
  const seed = Number(process.env.DFS_BTF_SEED ?? 0x5eed);
  const rng = new Rng(seed);
  const records = recordOffsets();
  const words = [0, 1, 2, 0x7f, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, records.length, records.length + 1];
  let parsed = 0;
  for (let i = 0; i < 1500; i++) {
    const b = Uint8Array.from(blob);
    const v = new DataView(b.buffer);
    let what: string;
    if (i % 2 === 0) {
      const flips = 1 + rng.int(3);
      const done: string[] = [];
      for (let k = 0; k < flips; k++) {
        const byte = rng.int(b.length);
        const bit = rng.int(8);
        b[byte] = (b[byte] ?? 0) ^ (1 << bit);
        done.push(`${byte}.${bit}`);
      }
      what = `seed ${seed} #${i}: flipped ${done.join(' ')}`;
    } else {
      // A word of a record (name, info, size/type, or its first entries) set to an interesting value.
      const at = rng.pick(records) + 4 * rng.int(6);
      const word = rng.pick(words);
      if (at + 4 > 24 + typeLen) continue;
      v.setUint32(at, word >>> 0, true);
      what = `seed ${seed} #${i}: word at ${at} = ${word}`;
    }
    if (onlyBadRequest(what, () => useWhole(parseBtf(b), rng, what))) parsed++;
  }
  t.diagnostic(`seed ${seed} (DFS_BTF_SEED replays): ${parsed} of 1500 damaged blobs still parsed and were used whole`);
});

test('huge counts are refused by the bytes they would need', () => {
  const records = recordOffsets();
  const btf = parseBtf(blob);
  const record = btf.find('fx_record', BtfKind.Struct) ?? assert.fail();
  const slots = btf.types.find((x) => x.kind === BtfKind.Array && x.length === 32) ?? assert.fail();
  const label = btf.types.find((x) => x.kind === BtfKind.Array && x.length === 12) ?? assert.fail();
  const patched = (at: number, word: number): Uint8Array => {
    const b = Uint8Array.from(blob);
    new DataView(b.buffer).setUint32(at, word >>> 0, true);
    return b;
  };
  const at = (id: number): number => records[id - 1] ?? assert.fail();
  const refuse = (b: Uint8Array, message: RegExp): void =>
    assert.throws(
      () => parseBtf(b),
      (e: unknown) => e instanceof DfsError && message.test(e.message),
    );
  // vlen 65535 on fx_record: its members would run far past the type section.
  refuse(
    patched(at(record) + 4, (4 << 24) | 0xffff | (1 << 31)),
    /\(struct, 65535 entries\) runs \d+ bytes past the type section/,
  );
  // 2^32 - 1 slots of 8 bytes.
  refuse(patched(at(slots.id) + 20, 0xffffffff), /is 4294967295 × 8 bytes, over 4 GiB/);
  // 2^32 - 1 chars: 4 GiB fits a type, not fx_record's 88 bytes.
  refuse(
    patched(at(label.id) + 20, 0xffffffff),
    /member label \(34359738360 bits at bit 544\) lies outside its 88 bytes/,
  );
  // A 4 GiB type section, a 4 GiB string section.
  refuse(patched(12, 0xffffffff), /type section \(4294967295 bytes/);
  refuse(patched(20, 0xffffffff), /string section \(4294967295 bytes/);
});

test('damaged ELF objects: elfSection and parseBtf refuse with a DfsError only', (t) => {
  const rng = new Rng(0xe1f);
  let parsed = 0;
  for (let i = 0; i < 400; i++) {
    const m = mutate(object, rng);
    const what = `mutant ${i} (${m.kind}: ${m.what})`;
    if (onlyBadRequest(what, () => useWhole(parseBtf(elfSection(m.bytes, '.BTF')), rng, what))) parsed++;
  }
  t.diagnostic(`${parsed} of 400 damaged objects still gave a usable .BTF`);
  assert.throws(() => elfSection(object, '.nope'), /the object has no \.nope section/);
  assert.throws(() => elfSection(object.subarray(0, 40), '.BTF'), /damaged ELF object: no ELF header/);
});
