import { DefaultLogger, Runtime } from '@temporalio/worker';

// As quiet-temporal.ts, and core's own (native) log lines filtered at ERROR too: against the
// time-skipping test server core warns at every worker start about a capability that server does not
// advertise. (Printed to the console by core, not forwarded: forwarding keeps a timer that holds jest
// open in files that start no worker.)
Runtime.install({
  logger: new DefaultLogger('ERROR'),
  telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
});
