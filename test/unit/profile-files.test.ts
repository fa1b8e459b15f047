// Profile files (core/src/profile/files.ts) and the viewer's messages: each export format reads
// back with the same stacks and total, the format is recognised from the content, faults name
// the file; the viewer's load payload decodes to the same stacks; isProfilePanelRequest
// accepts exactly the declared requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isProfilePanelRequest } from '../../protocol/src';
import { exportProfile, panelProfile, ProfileFileError, readProfileText } from '../../core/src/profile/files';
import { flameFromWire, flameToStacks } from '../../core/src/profile/flame';
import { profileSummary } from '../../core/src/profile/summary';
import { syntheticProfile } from '../support/syntheticProfile';

const p = syntheticProfile({ stacks: 300, seed: 2 });
const sum = (xs: { total_ns: number }[]): number => xs.reduce((s, x) => s + x.total_ns, 0);

test('every export format reads back with the same total', () => {
  for (const format of ['json', 'folded', 'speedscope'] as const) {
    const r = readProfileText(exportProfile(p, format, 'test'), `p.${format}`);
    assert.equal(r.format, format);
    assert.equal(r.profile.stacks.length, p.stacks.length, format);
    assert.equal(sum(r.profile.stacks), sum(p.stacks), format);
  }
  const json = readProfileText(exportProfile(p, 'json'), 'p.json');
  assert.deepEqual(JSON.parse(JSON.stringify(json.profile)), JSON.parse(JSON.stringify(p)));
  assert.equal(readProfileText('a;b 5\n', 'x.folded').profile.node, 'x.folded');
});

test('faults name the file', () => {
  assert.throws(
    () => readProfileText('{"duration_s": ', 'bad.json'),
    (e: unknown) => e instanceof ProfileFileError && /^bad\.json: not JSON/.test(e.message),
  );
  assert.throws(
    () => readProfileText('{"duration_s": 1}', 'b.json'),
    /b\.json: not a valid profile: histograms: expected an array/,
  );
  assert.throws(() => readProfileText('a;b x\n', 'f.txt'), /f\.txt: line 1: value "x"/);
  assert.throws(
    () =>
      readProfileText(
        '{"$schema":"https://www.speedscope.app/file-format-schema.json","shared":{"frames":[]},"profiles":7}',
        's.json',
      ),
    /s\.json: profiles: expected an array/,
  );
});

test('the viewer payload decodes to the same stacks', () => {
  const m = panelProfile(p, 'label');
  assert.equal(m.meta.label, 'label');
  assert.deepEqual(m.withSource, Object.keys(p.sources));
  assert.deepEqual(flameToStacks(flameFromWire(m.flame)), p.stacks);
});

test('isProfilePanelRequest', () => {
  for (const ok of [
    { type: 'ready' },
    { type: 'import' },
    { type: 'compare' },
    { type: 'openSource', frame: 'f' },
    { type: 'export', format: 'speedscope' },
  ]) {
    assert.equal(isProfilePanelRequest(ok), true, JSON.stringify(ok));
  }
  for (const bad of [
    null,
    7,
    {},
    { type: 'openSource' },
    { type: 'openSource', frame: '' },
    { type: 'export', format: 'pdf' },
    { type: 'load' },
  ]) {
    assert.equal(isProfilePanelRequest(bad), false, JSON.stringify(bad));
  }
});

test('an empty file is refused by name; an empty profile reads, summarizes and loads as empty', () => {
  assert.throws(
    () => readProfileText('', 'empty.folded'),
    (e: unknown) => e instanceof ProfileFileError && /^empty\.folded: /.test(e.message),
  );
  const empty = readProfileText('{"version":1,"duration_s":5,"histograms":[],"stacks":[]}', 'idle.json').profile;
  assert.equal(empty.stacks.length, 0);
  assert.equal(empty.histograms.length, 0);
  const text = profileSummary(empty);
  assert.match(text, /no requests seen/);
  assert.match(text, /no stacks/);
  const load = panelProfile(empty, 'idle');
  assert.equal(flameToStacks(flameFromWire(load.flame)).length, 0);
});

test('slow requests and the sampled cost window survive a JSON round trip', () => {
  const withSlow = {
    ...p,
    cost_sampled_s: 2,
    slow_requests: [
      { op: 'READ', unique: 7, total_ns: 12e6, queue_ns: 1e6, daemon_ns: 11e6, requester_pid: 10, reply_tid: 11 },
    ],
  };
  const back = readProfileText(exportProfile(withSlow, 'json'), 'slow.json');
  assert.deepEqual(back.warnings, []);
  assert.deepEqual(back.profile.slow_requests, withSlow.slow_requests);
  assert.equal(back.profile.cost_sampled_s, 2);
});
