#!/usr/bin/env node
// Owns nothing but argument translation: an executable @vscode/test-electron's
// runTests({ vscodeExecutablePath }) can spawn as if it were VS Code. It reads
// --extensionDevelopmentPath=, --extensionTestsPath= and the folder argument, ignores the
// desktop-only flags runTests adds (--no-sandbox, --user-data-dir=, ...: code-server gets
// isolated ones per run), and runs the suite with the compiled runExtensionTests (code-server
// + headless Chromium). Exit code: the suite's, 124 on timeout, 1 when the run itself broke.
// Harness-only options: --harness-settings=<settings.json>, --harness-timeout-ms=<ms>.
// The extension host inherits this process's environment (runTests' extensionTestsEnv).
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const { join, resolve } = require('node:path');

const repoRoot = resolve(__dirname, '..', '..');
const compiled = join(repoRoot, 'out/test/harness/runExtensionTests.js');

function parseArgs(argv) {
  const valueOptions = new Set([
    'extensionDevelopmentPath',
    'extensionTestsPath',
    'harness-settings',
    'harness-timeout-ms',
  ]);
  const out = { extensionDevelopmentPath: [], folders: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const m = /^--([^=]+)(?:=(.*))?$/s.exec(arg);
    if (m === null) {
      out.folders.push(arg);
      continue;
    }
    const [, name, inline] = m;
    if (!valueOptions.has(name)) continue; // a VS Code desktop flag; nothing to do here
    const value = inline !== undefined ? inline : argv[++i];
    if (value === undefined) throw new Error(`${arg} needs a value`);
    if (name === 'extensionDevelopmentPath') out.extensionDevelopmentPath.push(resolve(value));
    else out[name] = value;
  }
  return out;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.extensionDevelopmentPath.length === 0 || args.extensionTestsPath === undefined) {
    throw new Error('usage: code-shim.js --extensionDevelopmentPath=DIR --extensionTestsPath=FILE [FOLDER]');
  }
  if (!existsSync(compiled)) {
    throw new Error(`${compiled} is missing: build the tests first (node esbuild.mjs)`);
  }
  const { runExtensionTests } = require(compiled);
  const aborter = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => aborter.abort());
  return runExtensionTests({
    extensionDevelopmentPath: args.extensionDevelopmentPath,
    extensionTestsPath: resolve(args.extensionTestsPath),
    workspaceFolder: args.folders.length > 0 ? resolve(args.folders[0]) : undefined,
    settings: args['harness-settings'] ? JSON.parse(readFileSync(args['harness-settings'], 'utf8')) : undefined,
    timeoutMs: args['harness-timeout-ms'] ? Number(args['harness-timeout-ms']) : undefined,
    signal: aborter.signal,
  });
}

// process.exit, not exitCode: a handle left open by a broken run must not keep runTests
// waiting. Writes to pipes are synchronous on Linux, so no output is lost.
main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`code-shim: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err && err.name === 'ExtensionTestTimeoutError' ? 124 : 1);
  },
);
