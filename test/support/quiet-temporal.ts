import { DefaultLogger, Runtime } from '@temporalio/worker';

// Workers in tests log only warnings and errors; the SDK's INFO lines drown the test output.
Runtime.install({ logger: new DefaultLogger('WARN') });
