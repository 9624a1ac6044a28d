import type { Knex } from 'knex';
import { createKnex } from '../../../infra';
import { requireService } from '../../support/stack';

describe('PostgreSQL (real server)', () => {
  let db: Knex;

  beforeAll(() => {
    requireService('postgres');
    db = createKnex({ poolMax: 2, applicationName: 'smoke-test' });
  });
  afterAll(() => db?.destroy());

  it('round-trips a row and runs with the configured idle-in-transaction timeout', async () => {
    await db.transaction(async (trx) => {
      await trx.raw('CREATE TEMP TABLE smoke (id int PRIMARY KEY, note text) ON COMMIT DROP');
      await trx('smoke').insert({ id: 1, note: 'hello' });
      const row = await trx('smoke').where({ id: 1 }).first<{ note: string }>();
      expect(row?.note).toBe('hello');
    });
    const { rows } = await db.raw<{ rows: { setting: string }[] }>(
      "SELECT setting FROM pg_settings WHERE name = 'idle_in_transaction_session_timeout'",
    );
    expect(Number(rows[0]?.setting)).toBeGreaterThan(0);
    const version = await db.raw<{ rows: { server_version_num: string }[] }>('SHOW server_version_num');
    expect(Number(version.rows[0]?.server_version_num)).toBeGreaterThanOrEqual(150000);
  });
});
