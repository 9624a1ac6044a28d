import { DefaultLogger, Runtime } from '@temporalio/worker';

// Workers in tests log only errors (expected business failures are WARN); the SDK's INFO lines drown the test output.
Runtime.install({ logger: new DefaultLogger('ERROR') });
