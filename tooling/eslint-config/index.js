import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Shared flat config: strict TypeScript rules, `any` banned, unused code flagged. */
export default tseslint.config(
  { ignores: ['**/dist/**', '**/coverage/**', '**/node_modules/**', '**/.turbo/**', '**/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/no-invalid-void-type': 'off',
    },
  },
  {
    // Promise mistakes a type checker can see: a promise nobody awaits or catches, and an async
    // function where a void callback is expected (its rejection would go nowhere).
    files: ['**/src/**/*.ts', '**/test/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    // Plain Node scripts (tooling/scripts, configs).
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    files: ['**/test/**', '**/*.test.ts', '**/bench/**', '**/examples/**'],
    rules: { 'no-console': 'off' },
  },
);
