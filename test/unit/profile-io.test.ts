// Import/export of profiles (core/src/profile/folded.ts, speedscope.ts, validate.ts): round
// trips keep every stack and the total nanoseconds; the exported speedscope file validates
// against the schema speedscope ships (node_modules/speedscope/.../file-format-schema.json,
// checked with the ajv already in node_modules); hostile inputs (truncated, huge or negative or
// NaN numbers, deep stacks, wrong types, unknown fields, 10,000 random mutations) only ever
// produce the importer's typed error, and quickly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProfileStack } from '../../protocol/src';
import { FoldedImportError, fromFolded, toFolded } from '../../core/src/profile/folded';
import { fromSpeedscope, SpeedscopeImportError, toSpeedscope } from '../../core/src/profile/speedscope';
import { parseProfile, ProfileValidationError, validateProfile } from '../../core/src/profile/validate';
import { prng, syntheticProfile } from '../support/syntheticProfile';
import { speedscopeValidator } from '../support/speedscopeSchema';

const total = (s: readonly ProfileStack[]): number => s.reduce((a, x) => a + x.total_ns, 0);
const key = (s: ProfileStack): string => `${s.kind} ${s.frames.join(';')} ${s.total_ns}`;
const profile = syntheticProfile({ stacks: 2000, seed: 11 });

test('folded: export → import keeps stacks and totals; kernel frames keep _[k]', () => {
  const text = toFolded(profile.stacks);
  assert.match(text, /;do_syscall_64_\[k\]/);
  const back = fromFolded(text);
  assert.equal(back.length, profile.stacks.length);
  assert.equal(total(back), total(profile.stacks));
  assert.deepEqual(
    back.map((s) => `${s.frames.join(';')} ${s.total_ns}`).sort(),
    profile.stacks.map((s) => `${s.frames.join(';')} ${s.total_ns}`).sort(),
  );
  assert.deepEqual(fromFolded('a;b 3\r\n\na;b 4\nc 0\n', { kind: 'slow' }), [
    { frames: ['a', 'b'], total_ns: 7, count: 2, kind: 'slow' },
    { frames: ['c'], total_ns: 0, count: 1, kind: 'slow' },
  ]);
  assert.equal(
    toFolded([{ frames: ['x;y', 'line\nbreak'], total_ns: 1.6, count: 1, kind: 'oncpu' }]),
    'x:y;line break 2\n',
  );
});

test('folded: malformed lines are typed errors with line numbers', () => {
  const cases: [string, RegExp][] = [
    ['a;b 1\nno-value\n', /^line 2: .*no value/],
    ['a;b -5', /^line 1: value "-5" is not a non-negative number/],
    ['a;b NaN', /not a non-negative number/],
    ['a;b 1e400', /not a non-negative number/],
    ['a;b 99999999999999999999', /too large/],
    ['a;;b 1', /frame 2 is empty/],
    [' 1', /the stack is empty/],
    [Array.from({ length: 3000 }, () => 'f').join(';') + ' 1', /deeper than 2048/],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => fromFolded(text),
      (e: unknown) => e instanceof FoldedImportError && re.test(e.message),
      text.slice(0, 40),
    );
  }
  assert.throws(() => fromFolded('a 1\nb 1\nc 1', { limits: { maxLines: 2 } }), /line 3: more than 2 lines/);
  assert.throws(() => fromFolded('x'.repeat(100) + ' 1', { limits: { maxLineLength: 50 } }), /longer than 50/);
});

test('speedscope: export validates against the shipped schema and re-imports with equal totals', async () => {
  const file = toSpeedscope(profile.stacks, { name: 'dfsnode0', sources: profile.sources, exporter: 'dfs-ebpf test' });
  const validate = await speedscopeValidator();
  const ok = validate(JSON.parse(JSON.stringify(file)));
  assert.ok(ok, JSON.stringify(validate.errors?.slice(0, 3)));
  assert.equal(validate({ ...file, $schema: 'x' }), false, 'the check is not vacuous');
  assert.deepEqual(
    file.profiles.map((p) => p.name),
    ['dfsnode0 oncpu', 'dfsnode0 offcpu', 'dfsnode0 slow'],
  );
  const back = fromSpeedscope(JSON.stringify(file));
  assert.equal(total(back.stacks), total(profile.stacks));
  assert.deepEqual(back.stacks.map(key).sort(), profile.stacks.map(key).sort());
  assert.deepEqual(back.sources, Object.assign(Object.create(null) as object, profile.sources));
});

test('speedscope: evented profiles and units', () => {
  const doc = {
    $schema: 'https://www.speedscope.app/file-format-schema.json',
    shared: { frames: [{ name: 'main' }, { name: 'read' }] },
    profiles: [
      {
        type: 'evented',
        name: 'node offcpu',
        unit: 'microseconds',
        startValue: 0,
        endValue: 10,
        events: [
          { type: 'O', frame: 0, at: 0 },
          { type: 'O', frame: 1, at: 2 },
          { type: 'C', frame: 1, at: 7 },
          { type: 'C', frame: 0, at: 10 },
        ],
      },
    ],
  };
  const r = fromSpeedscope(doc);
  assert.deepEqual(r.stacks, [
    { frames: ['main'], total_ns: 5000, count: 1, kind: 'offcpu' },
    { frames: ['main', 'read'], total_ns: 5000, count: 1, kind: 'offcpu' },
  ]);
  const bad = structuredClone(doc);
  bad.profiles[0]!.events[2]!.frame = 0;
  assert.throws(
    () => fromSpeedscope(bad),
    /profiles\[0\]\.events\[2\]: closes frame 0 but the innermost open frame is 1/,
  );
  const back = structuredClone(doc);
  back.profiles[0]!.events[2]!.at = 1;
  assert.throws(() => fromSpeedscope(back), /goes back in time/);
  const bytes = structuredClone(doc);
  bytes.profiles[0]!.unit = 'bytes';
  assert.throws(() => fromSpeedscope(bytes), /not a unit of time/);
});

test('speedscope: hostile sampled profiles', () => {
  const base = () => ({
    $schema: 'https://www.speedscope.app/file-format-schema.json',
    shared: { frames: [{ name: 'a' }, { name: 'b' }] },
    profiles: [
      {
        type: 'sampled',
        name: 'p',
        unit: 'nanoseconds',
        startValue: 0,
        endValue: 3,
        samples: [[0, 1], [0]],
        weights: [2, 1],
      },
    ],
  });
  const mutate = (f: (d: ReturnType<typeof base>) => void): ReturnType<typeof base> => {
    const d = base();
    f(d);
    return d;
  };
  const faults: [ReturnType<typeof base>, RegExp][] = [
    [mutate((d) => (d.profiles[0]!.samples[0]![1] = 5)), /samples\[0\]\[1\]: frame index 5 is out of range/],
    [mutate((d) => (d.profiles[0]!.weights[1] = -1)), /weights\[1\]: a weight cannot be negative/],
    [mutate((d) => (d.profiles[0]!.weights[1] = Number.NaN)), /weights\[1\]: expected a finite number/],
    [mutate((d) => d.profiles[0]!.weights.pop()), /2 samples but 1 weights/],
    [mutate((d) => ((d.shared.frames[0] as { name: unknown }).name = 7)), /shared\.frames\[0\]/],
    [mutate((d) => (d.profiles[0]!.samples[0] = Array.from({ length: 5000 }, () => 0))), /deeper than 2048/],
  ];
  for (const [doc, re] of faults) {
    assert.throws(
      () => fromSpeedscope(doc),
      (e: unknown) => e instanceof SpeedscopeImportError && re.test(e.message),
    );
  }
  assert.throws(() => fromSpeedscope('{"$schema": '), SpeedscopeImportError);
  assert.throws(() => fromSpeedscope(null), SpeedscopeImportError);
  // Unknown fields are ignored.
  assert.equal(fromSpeedscope({ ...base(), extra: { deep: [1] } }).stacks.length, 2);
});

test('Profile validation: clear faults, defaults, unknown fields reported', () => {
  const { profile: p, warnings } = validateProfile({
    duration_s: 5,
    histograms: [{ layer: 'fuse', op: 'READ', count: 1, sum_ns: 1, buckets: [{ le_us: 4, count: 1 }], colour: 'red' }],
    stacks: [{ frames: ['a'], total_ns: 3, count: 1 }],
    sources: { __proto__: { file: 'x.go', line: 3 } },
    future: true,
  });
  assert.equal(p.stacks[0]!.kind, 'oncpu');
  assert.equal(p.version, 1);
  assert.deepEqual(warnings, ['future: unknown field, ignored', 'histograms[0].colour: unknown field, ignored']);
  const fault = (doc: unknown, re: RegExp): void => {
    assert.throws(
      () => validateProfile(doc),
      (e: unknown) => e instanceof ProfileValidationError && re.test(e.message),
      String(re),
    );
  };
  fault([], /expected a JSON object/);
  fault({ duration_s: -1, histograms: [], stacks: [] }, /duration_s: expected a finite number ≥ 0, got -1/);
  fault(
    { duration_s: 1, histograms: [], stacks: [{ frames: [], total_ns: 1, count: 1 }] },
    /stacks\[0\]\.frames: a stack has at least one frame/,
  );
  fault(
    { duration_s: 1, histograms: [], stacks: [{ frames: ['a', 3], total_ns: 1, count: 1 }] },
    /stacks\[0\]\.frames\[1\]/,
  );
  fault(
    { duration_s: 1, histograms: [], stacks: [{ frames: ['a'], total_ns: Number.POSITIVE_INFINITY, count: 1 }] },
    /total_ns/,
  );
  fault(
    { duration_s: 1, histograms: [{ layer: 'disk', op: 'x', count: 1, buckets: [] }], stacks: [] },
    /histograms\[0\]\.layer/,
  );
  fault(
    {
      duration_s: 1,
      histograms: [
        {
          layer: 'fuse',
          op: 'x',
          count: 1,
          buckets: [
            { le_us: 4, count: 1 },
            { le_us: 2, count: 1 },
          ],
        },
      ],
      stacks: [],
    },
    /ascending/,
  );
  fault({ version: 2, duration_s: 1, histograms: [], stacks: [] }, /version: expected 1/);
  assert.throws(() => parseProfile('{"duration_s": 1,'), /not JSON/);
  // Many faults stop early and are capped.
  const many = { duration_s: 1, histograms: [], stacks: Array.from({ length: 1000 }, () => ({ frames: 1 })) };
  assert.throws(
    () => validateProfile(many),
    (e: unknown) => e instanceof ProfileValidationError && e.faults.length <= 21,
  );
});

test('10,000 random mutations of each format only give typed errors, quickly', () => {
  const small = syntheticProfile({ stacks: 40, seed: 5 });
  const folded = toFolded(small.stacks);
  const speedscope = JSON.stringify(toSpeedscope(small.stacks, { name: 'n' }));
  const json = JSON.stringify(small);
  const rnd = prng(99);
  const alphabet = [
    '',
    ';',
    ' ',
    '\n',
    '-',
    '1e999',
    'NaN',
    '"',
    '{',
    ']',
    ',',
    '0',
    '99999999999999999999',
    'null',
    '[[',
    '_[k]',
    '\u0000',
  ];
  const mutateText = (t: string): string => {
    let s = t;
    const edits = 1 + Math.floor(rnd() * 4);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(rnd() * (s.length + 1));
      const r = rnd();
      if (r < 0.3) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 20));
      else if (r < 0.6) s = s.slice(0, at) + alphabet[Math.floor(rnd() * alphabet.length)] + s.slice(at);
      else if (r < 0.8) s = s.slice(0, at);
      else s = s.slice(0, at) + String.fromCharCode(Math.floor(rnd() * 128)) + s.slice(at + 1);
    }
    return s;
  };
  const t0 = performance.now();
  const outcomes = { folded: [0, 0], speedscope: [0, 0], json: [0, 0] };
  for (let i = 0; i < 10_000; i++) {
    const run = (
      name: keyof typeof outcomes,
      text: string,
      f: (t: string) => unknown,
      E: new (...a: never[]) => Error,
    ): void => {
      try {
        f(text);
        outcomes[name][0]!++;
      } catch (e) {
        if (!(e instanceof E))
          throw new Error(`${name} mutation ${i} threw ${String(e)}: ${JSON.stringify(text.slice(0, 200))}`, {
            cause: e,
          });
        outcomes[name][1]!++;
      }
    };
    run('folded', mutateText(folded), (t) => fromFolded(t), FoldedImportError);
    run('speedscope', mutateText(speedscope), (t) => fromSpeedscope(t), SpeedscopeImportError);
    run('json', mutateText(json), (t) => parseProfile(t), ProfileValidationError);
  }
  const ms = performance.now() - t0;
  console.log(`mutations (accepted, refused): ${JSON.stringify(outcomes)} in ${ms.toFixed(0)} ms`);
  for (const [ok, bad] of Object.values(outcomes)) assert.ok(ok! > 0 && bad! > 0, 'both outcomes occur');
});
