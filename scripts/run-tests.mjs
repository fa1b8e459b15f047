// Runs one test tier and records its counts: `node scripts/run-tests.mjs unit|integration|extension|e2e`.
// unit, integration and e2e are node:test files bundled into out/test/<tier>/ (npm run build);
// extension runs the mocha suite inside code-server (test/harness/runVsCodeTests).
// Each tier writes out/test-results/<tier>.json = {passed, failed} for scripts/test.sh's total.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const tier = process.argv[2];
const resultsDir = join(root, 'out', 'test-results');
mkdirSync(resultsDir, { recursive: true });

function record(passed, failed) {
  writeFileSync(join(resultsDir, `${tier}.json`), JSON.stringify({ tier, passed, failed }) + '\n');
  console.log(`[${tier}] ${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
}

function nodeTestTier(dir, { serial }) {
  const abs = join(root, 'out', 'test', dir);
  const files = existsSync(abs)
    ? readdirSync(abs)
        .filter((f) => f.endsWith('.test.js'))
        .map((f) => join(abs, f))
    : [];
  if (files.length === 0) {
    console.error(`[${tier}] no compiled tests in ${abs}; run npm run build first`);
    return record(0, 1);
  }
  const tap = join(resultsDir, `${tier}.tap`);
  const args = [
    '--enable-source-maps',
    '--test',
    ...(serial ? ['--test-concurrency=1'] : []),
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ];
  const res = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
  const text = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
  const count = (k) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  const failed = count('fail') + count('cancelled') + (res.status !== 0 && count('fail') === 0 ? 1 : 0);
  record(count('pass'), failed);
}

switch (tier) {
  case 'unit':
    nodeTestTier('unit', { serial: false });
    break;
  case 'integration':
    nodeTestTier('integration', { serial: true });
    break;
  case 'e2e':
    nodeTestTier('e2e', { serial: true });
    break;
  case 'extension': {
    const counts = join(resultsDir, 'extension-mocha.json');
    const res = spawnSync(process.execPath, ['--enable-source-maps', join(root, 'out/test/extension/run.js')], {
      stdio: 'inherit',
      cwd: root,
      env: { ...process.env, DFS_EBPF_MOCHA_RESULTS: counts },
    });
    const c = existsSync(counts) ? JSON.parse(readFileSync(counts, 'utf8')) : { passed: 0, failed: 1 };
    record(c.passed, c.failed + (res.status !== 0 && c.failed === 0 ? 1 : 0));
    break;
  }
  default:
    console.error('usage: node scripts/run-tests.mjs unit|integration|extension|e2e');
    process.exitCode = 2;
}
