import { DefaultLogger, Runtime } from '@temporalio/worker';

// Workers in tests log only errors (expected business failures are WARN); the SDK's INFO lines drown the test output.
// Core's own (native) log lines go to the same logger, filtered alike: against the time-skipping test
// server it warns at every worker start about a capability that server does not advertise.
Runtime.install({
  logger: new DefaultLogger('ERROR'),
  telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
});
