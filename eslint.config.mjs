import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', '.cache/**', 'test-results/**', 'test/fixtures/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // server/ must never depend on the VS Code API: it also runs as the CLI.
      'no-restricted-imports': 'off',
    },
  },
  {
    // Lines of at most 140 characters (issue 14); URLs and regular expressions may run longer.
    files: ['server/src/**/*.ts', 'client/src/**/*.ts'],
    rules: { 'max-len': ['error', { code: 140, ignoreUrls: true, ignoreRegExpLiterals: true }] },
  },
  {
    files: ['server/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'server/ never imports vscode' }] }] },
  },
);
