import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/*
 * Import boundaries (`@typescript-eslint/no-restricted-imports`; `import type` stays allowed where it is
 * harmless, since it leaves nothing in the compiled code):
 *
 * - workflows/ runs in Temporal's deterministic sandbox and is bundled for it. At run time it may import
 *   only @temporalio/workflow, @temporalio/common, domain/ and workflows/ itself; types may come from
 *   anywhere (activities' interfaces for proxyActivities, eventstore's EventMetadata, ...).
 * - domain/ is the pure rules: no infrastructure at all, not even types, except zod (event payload
 *   schemas) and three eventstore modules that are pure too (no I/O, no imports but types and each
 *   other): eventstore/registry.ts (defineEvent, EventRegistry), errors.ts and types.ts. Those three
 *   are held to that below, so they stay pure.
 */
const FOLDERS_OUTSIDE = 'activities|api|bench|composition|config|infra|messaging|migrations|projections|scripts|stack|test|workers';

const workflowBoundary = [
  {
    // Every package but the two workflow-safe Temporal ones (and node: built-ins); relative paths are checked below.
    regex: '^(?!\\.|@temporalio/(workflow|common)(/|$))',
    allowTypeImports: true,
    message: 'Workflow code may import at run time only @temporalio/workflow, @temporalio/common, domain/ and workflows/ (use `import type` for types).',
  },
  {
    regex: `^(\\.\\./)+(${FOLDERS_OUTSIDE}|eventstore)(/|$)`,
    allowTypeImports: true,
    message: 'Workflow code may import at run time only @temporalio/workflow, @temporalio/common, domain/ and workflows/ (use `import type` for types).',
  },
];

const PURE_MESSAGE = 'domain/ (and the pure eventstore modules it uses) imports no infrastructure: only zod, domain/, eventstore/registry, errors and types.';
const pureBoundary = [
  { regex: '^(?!\\.|zod$)', message: PURE_MESSAGE },
  { regex: `^(\\.\\./)+(${FOLDERS_OUTSIDE}|workflows)(/|$)`, message: PURE_MESSAGE },
  // eventstore/ itself (its index loads the Postgres store), except its pure modules.
  { regex: '^(\\.\\./)+eventstore(/(?!(registry|errors|types)$).*)?$', message: PURE_MESSAGE },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly', __dirname: 'readonly' } },
  },
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // Type-aware rules for the TypeScript (tsconfig.json covers every .ts file): promises nobody awaits
    // or handles, promises where a callback's result is ignored, and switches that miss a case.
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // A `default` is a deliberate "every other case" (a projection ignores most event types): only a
      // switch without one must name every member of the union.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: workflowBoundary }] },
  },
  {
    // The tracing interceptors are bundled into the sandbox only when tracing is on: Temporal's
    // OpenTelemetry workflow interceptors and the OpenTelemetry API are made for it.
    files: ['workflows/tracing-interceptors.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { ...workflowBoundary[0], regex: '^(?!\\.|@temporalio/(workflow|common)(/|$)|@temporalio/interceptors-opentelemetry/lib/workflow$|@opentelemetry/api$)' },
            workflowBoundary[1],
          ],
        },
      ],
    },
  },
  {
    files: ['domain/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: pureBoundary }] },
  },
  {
    // Pure modules of eventstore/ that domain/ (and so the workflow bundle) imports: types and each other only.
    files: ['eventstore/registry.ts', 'eventstore/errors.ts', 'eventstore/types.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(?!\\./(registry|errors|types)$)', allowTypeImports: true, message: 'eventstore/registry, errors and types are imported by domain/ and workflows/: they import only each other (and types).' }] },
      ],
    },
  },
);
