// @ts-check
/** @type {import('jest').Config['transform']} */
const transform = { '^.+\\.ts$': ['@swc/jest', {}], '^.+\\.js$': ['@swc/jest', {}] };
// Packages that ship only ES modules (plain Node loads them with require(esm); jest does not).
// cookie: light-my-request's, behind fastify.inject().
const transformIgnorePatterns = ['/node_modules/(?!(content-disposition|cookie)/)'];

// Unit tests touch no server; workflow tests start their own test server per file. Integration tests
// share one real stack, so they run in band.
/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 60_000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
      transformIgnorePatterns,
    },
    {
      // The real workflow on the time-skipping test server, activities replaced by doubles: no servers
      // of the stack needed (test/support/workflow-harness.ts).
      displayName: 'workflow',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/test/workflow/**/*.test.ts'],
      // Provisions the test server and bundles the workflow code once per run.
      globalSetup: '<rootDir>/test/support/workflow-global-setup.ts',
      globalTeardown: '<rootDir>/test/support/workflow-global-teardown.ts',
      setupFiles: ['<rootDir>/test/support/quiet-temporal-workflow.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      transformIgnorePatterns,
      // The tests' own database, vhost, namespace and Kafka prefix (see the file).
      globalSetup: '<rootDir>/test/support/test-environment.ts',
      setupFiles: ['<rootDir>/test/support/test-environment.ts', '<rootDir>/test/support/quiet-temporal.ts'],
      slowTestThreshold: 30,
    },
  ],
};
