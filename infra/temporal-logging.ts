import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from 'pino';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * Routes the Temporal SDK's logs (workers, workflows, activities) into our structured logger and, given
 * an address (host:port), serves the SDK core's metrics there for Prometheus.
 */
export function installTemporalLogging(logger: Logger, level: LogLevel = 'INFO', metricsAddress?: string): void {
  Runtime.install({
    logger: new DefaultLogger(level, ({ level: lvl, message, meta }) => logger[LEVELS[lvl]](meta ?? {}, message)),
    ...(metricsAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress } } } } : {}),
  });
}
