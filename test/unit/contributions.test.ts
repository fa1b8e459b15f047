// Proves the typed registry (extension/src/contributions.ts) and package.json's `contributes`
// declare the same commands, titles, category and settings, so neither can drift alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CommandCategory,
  Commands,
  CommandTitles,
  ContextKeys,
  SettingKeys,
  SettingsSection,
} from '../../extension/src/contributions';
import { PROFILE_DEFAULTS } from '../../protocol/src';
import { repoRoot } from '../support/repo';

interface Manifest {
  contributes: {
    commands: { command: string; title: string; category: string }[];
    configuration: { properties: Record<string, unknown> };
  };
}
const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as Manifest;

test('every command in the registry is contributed with its title and category, and no other', () => {
  const declared = Object.values(Commands).sort();
  const contributed = pkg.contributes.commands.map((c) => c.command).sort();
  assert.deepEqual(contributed, declared);
  for (const c of pkg.contributes.commands) {
    assert.equal(c.title, CommandTitles[c.command as keyof typeof CommandTitles], c.command);
    assert.equal(c.category, CommandCategory, c.command);
  }
});

test('the palette titles the issue names exist exactly', () => {
  const titles = pkg.contributes.commands.map((c) => c.title);
  for (const t of ['Connect to test node', 'Attach bypass', 'Detach bypass']) assert.ok(titles.includes(t), t);
});

test('settings in the registry equal the contributed configuration', () => {
  const contributed = Object.keys(pkg.contributes.configuration.properties).sort();
  assert.deepEqual(contributed, SettingKeys.map((k) => `${SettingsSection}.${k}`).sort());
});

test('no setting stores a password or passphrase', () => {
  for (const k of Object.keys(pkg.contributes.configuration.properties))
    assert.doesNotMatch(k, /pass(word|phrase)|secret/i);
});

test("the profile settings' defaults in package.json are protocol's PROFILE_DEFAULTS", () => {
  const props = pkg.contributes.configuration.properties as Record<string, { default?: unknown }>;
  assert.equal(props['dfsEbpf.profile.durationSeconds']?.default, PROFILE_DEFAULTS.durationS);
  assert.equal(props['dfsEbpf.profile.slowRequestUs']?.default, PROFILE_DEFAULTS.slowRequestUs);
});

test('the walkthrough links only commands that exist, finishes on real events, and its pages exist', () => {
  const manifest = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as {
    contributes: {
      walkthroughs: {
        steps: { id: string; description: string; media: { markdown: string }; completionEvents: string[] }[];
      }[];
    };
  };
  const commands = new Set<string>(Object.values(Commands));
  const contexts = new Set<string>(Object.values(ContextKeys));
  const steps = manifest.contributes.walkthroughs.flatMap((w) => w.steps);
  assert.ok(steps.length >= 5, 'from connecting a node to a profile');
  for (const s of steps) {
    const links = [...s.description.matchAll(/\(command:([\w.]+)\)/g)].map((m) => m[1]!);
    assert.ok(links.length > 0, `${s.id} has a command to run`);
    for (const l of links) assert.ok(commands.has(l), `${s.id}: ${l} is a command`);
    for (const e of s.completionEvents) {
      const [kind, what] = e.split(':');
      if (kind === 'onCommand') assert.ok(commands.has(what!), `${s.id}: ${e}`);
      else if (kind === 'onContext') assert.ok(contexts.has(what!), `${s.id}: ${e}`);
      else assert.fail(`${s.id}: unexpected completion event ${e}`);
    }
    assert.ok(existsSync(join(repoRoot(), s.media.markdown)), `${s.id}: ${s.media.markdown}`);
  }
});
