// Mocha entry of the extension tests, in the @vscode/test-electron layout: VS Code (here
// code-server's Node extension host) loads this file and awaits run(). Counts are also written
// to $DFS_EBPF_MOCHA_RESULTS so scripts/run-tests.mjs can add them to the suite's total.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 120_000, reporter: 'spec' });
  for (const f of readdirSync(__dirname)
    .filter((n) => n.endsWith('.test.js'))
    .sort())
    mocha.addFile(join(__dirname, f));
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const out = process.env.DFS_EBPF_MOCHA_RESULTS;
      if (out) writeFileSync(out, JSON.stringify({ passed: runner.stats?.passes ?? 0, failed: failures }) + '\n');
      if (failures > 0) reject(new Error(`${failures} extension tests failed`));
      else resolve();
    });
  });
}
