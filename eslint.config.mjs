// Flat ESLint config: typed rules (no floating promises) for all TypeScript, plus layering
// rules that keep the architecture honest: the protocol imports nothing, the core and the
// agent never import vscode, the pure core modules import only the protocol and each other,
// webviews import only the protocol, those pure modules and their own files.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Core modules that are pure (no Node, no DOM, no vscode) and so also run in the webviews
 * (ARCHITECTURE.md, "Pure modules"). Add a module here only if it imports nothing else.
 */
const PURE_VERIFIER = ['lines', 'states', 'parse', 'classify', 'locate', 'model'];
/** The profile model (core/src/profile/): pure in the same way, run by the profile viewer too. */
const PURE_PROFILE = [
  'histogram',
  'flame',
  'folded',
  'speedscope',
  'diff',
  'compare',
  'sandwich',
  'validate',
  'files',
  'summary',
];
/**
 * The BTF reader and map codec (core/src/btf/): pure in the same way; they may also import
 * `../errors` (DfsError), which itself imports only the protocol.
 */
const PURE_BTF = ['parse', 'codec', 'shape', 'elf', 'index'];
/** The map inspector's table (core/src/inspect/table.ts; entries.ts uses Node's Buffer and is not pure). */
const PURE_INSPECT = ['table', 'programs'];
/** The editing checks (core/src/editing/; facts.ts asks the node and is not pure): run per keystroke. */
const PURE_EDITING = ['source', 'check', 'data', 'sections'];
const pureCore = `@dfs/core/(?:verifier/(?:${PURE_VERIFIER.join('|')})|profile/(?:${PURE_PROFILE.join('|')})|btf/(?:${PURE_BTF.join('|')}))$`;
/** Imports a webview file may make; `extra` for the one folder that may import the UI toolkit. */
const webviewImports = (extra) => ({
  regex: `^(?!@dfs/protocol$|${pureCore}|\\.{1,2}/${extra})`,
  message: 'webviews import only @dfs/protocol, the pure core modules (ARCHITECTURE.md) and their own files',
});

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
    files: PURE_VERIFIER.map((m) => `core/src/verifier/${m}.ts`),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(?!@dfs/protocol$|\\./(?:${PURE_VERIFIER.join('|')})$)`,
              message:
                'a pure module imports only @dfs/protocol and the other pure modules: it runs in the webviews too',
            },
          ],
        },
      ],
    },
  },
  {
    files: PURE_PROFILE.map((m) => `core/src/profile/${m}.ts`),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(?!@dfs/protocol$|\\./(?:${PURE_PROFILE.join('|')})$)`,
              message:
                'a pure module imports only @dfs/protocol and the other pure modules: it runs in the webviews too',
            },
          ],
        },
      ],
    },
  },
  {
    files: PURE_BTF.map((m) => `core/src/btf/${m}.ts`),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(?!@dfs/protocol$|\\.\\./errors$|\\./(?:${PURE_BTF.join('|')})$)`,
              message:
                'a pure module imports only @dfs/protocol, ../errors and the other pure modules: it runs in the webviews too',
            },
          ],
        },
      ],
    },
  },
  {
    files: PURE_INSPECT.map((m) => `core/src/inspect/${m}.ts`),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(?!@dfs/protocol$|\\.\\./errors$|\\.\\./btf$|\\./entries$)`,
              message: 'a pure module imports only @dfs/protocol, ../errors, ../btf (and types of ./entries)',
            },
          ],
        },
      ],
    },
  },
  {
    files: PURE_EDITING.map((m) => `core/src/editing/${m}.ts`),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(?!\\./(?:${PURE_EDITING.join('|')})$|\\./data/[a-z]+\\.json$)`,
              message: 'a pure editing module imports only the other pure editing modules and its data',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['webview/**/*.ts'],
    ignores: ['webview/src/components/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [webviewImports('')] }] },
  },
  {
    // The one place that imports the UI toolkit (STYLE.md §7), so it stays swappable.
    files: ['webview/src/components/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [webviewImports('|@vscode/webview-ui-toolkit$')] }] },
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
