import type { Knex } from 'knex';
import type { Supervisor } from '../../workers/supervisor';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface KillInsideTransactionOptions {
  /** The supervised process to kill. */
  name: string;
  /** The database and the application_name its connections use. */
  database: string;
  applicationName: string;
  attempts: number;
  /** Decides the pause between attempts, so that a seeded test stays repeatable. */
  random: () => number;
}

/**
 * Freezes a supervised process (SIGSTOP) until it is caught with a transaction open in Postgres, then
 * SIGKILLs it there: the crash that a transaction must survive. Between attempts it lets the process
 * run on for a random few milliseconds. Resolves to whether it killed the process inside a transaction.
 */
export async function killInsideTransaction(db: Knex, supervisor: Supervisor, options: KillInsideTransactionOptions): Promise<boolean> {
  for (let attempt = 0; attempt < options.attempts; attempt++) {
    supervisor.kill(options.name, 'SIGSTOP');
    const { rows } = await db.raw<{ rows: unknown[] }>(
      'SELECT 1 FROM pg_stat_activity WHERE datname = ? AND application_name = ? AND xact_start IS NOT NULL',
      [options.database, options.applicationName],
    );
    if (rows.length > 0) {
      supervisor.kill(options.name, 'SIGKILL');
      return true;
    }
    supervisor.kill(options.name, 'SIGCONT');
    await sleep(Math.floor(options.random() * 20));
  }
  return false;
}
