// ESLint (flat config): JavaScript's and typescript-eslint's recommended rules, which the tree passes.
// `make lint` runs it with the formatter check; `make test` runs `make lint`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bin/**', '**/testdata/**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // `const { resourceVersion: _rv, ...rest } = x` drops a field on purpose; `_name` marks unused.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // `let x = fallback; try { x = read() } catch { return }` is the house style for best-effort reads.
      'no-useless-assignment': 'off',
      // `let x; t.after(() => x?.stop()); x = await start()`: cleanup registered before the value exists.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Table tests match column gaps literally ("NAME  CIDR"); counting spaces there helps no one.
      'no-regex-spaces': 'off',
      // Child processes are started only by these modules (each owns a long-lived or one-shot tool).
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'node:child_process', message: 'start processes through src/lib/exec.ts (or a BatchSession)' },
          ],
        },
      ],
    },
  },
  {
    files: [
      'src/lib/exec.ts',
      'src/lib/batch-session.ts',
      'src/cni/ip-runner.ts',
      'src/dataplane/nft/session.ts',
      'src/lab/etcd.ts',
      'src/lab/vm/server.ts',
      'test/**',
      'bench/**',
      'scripts/**',
      '**/*.test.ts',
    ],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // Tests poke at decoded JSON; `any` there is a test's business, not a public surface.
    files: ['test/**', '**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
