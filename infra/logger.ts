import pino, { type Logger } from 'pino';
import { config } from '../config';
import { activeTraceIds } from './tracing';

/**
 * Structured JSON logs, one line per record, tagged with the process's role; a line written within a
 * span carries its trace_id and span_id, which lead to the trace in Jaeger.
 */
export function createLogger(name: string): Logger {
  return pino({ name, level: config().LOG_LEVEL, base: { pid: process.pid, service: name }, mixin: activeTraceIds });
}

export type { Logger };
