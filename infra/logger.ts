import pino, { type Logger } from 'pino';
import { config } from '../config';

/** Structured JSON logs, one line per record, tagged with the process's role. */
export function createLogger(name: string): Logger {
  return pino({ name, level: config().LOG_LEVEL, base: { pid: process.pid, service: name } });
}

export type { Logger };
