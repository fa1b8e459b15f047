// Flat ESLint config: typed rules (no floating promises) for all TypeScript, plus layering
// rules that keep the architecture honest: the protocol imports nothing, the core and the
// agent never import vscode, webviews never import Node.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'out/**',
      'build/**',
      '.cache/**',
      'node_modules/**',
      'remote-agent/native/build/**',
      'test/harness/code-shim.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    files: ['protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^[^.]', message: 'the protocol has no dependencies: relative imports only' }] },
      ],
    },
  },
  {
    files: ['core/**/*.ts', 'remote-agent/**/*.ts', 'cli/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: ['vscode'], patterns: ['@vscode/webview-ui-toolkit*'] }] },
  },
  {
    files: ['webview/**/*.ts'],
    ignores: ['webview/src/components/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['vscode'],
          patterns: [
            { group: ['node:*'], message: 'webviews run in the browser' },
            { group: ['@vscode/webview-ui-toolkit*'], message: 'only webview/src/components/ imports the UI toolkit' },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'scripts/**/*.mjs', 'esbuild.mjs', 'eslint.config.mjs', '**/*.js'],
    rules: { 'no-console': 'off' },
  },
  {
    // node:test's test()/describe() return promises the runner itself tracks.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        require: 'readonly',
        __dirname: 'readonly',
        module: 'writable',
      },
    },
  },
);
