import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { config, parseConfig, type Env } from '../../../config';
import { connectRabbitMq, connectTemporalClient, createKafka, createKnex } from '../../../infra';
import { kafkaTopics } from '../../../messaging/kafka/kafka-topics';
import { vhostOf } from '../../../messaging/rabbitmq/rabbitmq-management';
import { ENVIRONMENT_VARIABLES, readStackEnv } from '../../../stack/environments';
import { requireService } from '../../support/stack';

const run = promisify(execFile);

/*
 * The tests share the servers with `npm start` but not its data: jest moves them (and every process
 * they start) into the test environment that stack:up provisions.
 */
describe('the test environment', () => {
  it('is where the tests and the processes they start run, apart from the dev system', async () => {
    const { stdout } = await run(process.execPath, ['-e', `console.log(JSON.stringify(${JSON.stringify(ENVIRONMENT_VARIABLES)}.map((n) => process.env[n])))`]);
    expect(JSON.parse(stdout)).toEqual(ENVIRONMENT_VARIABLES.map((name) => process.env[name]));

    // The caller may name other ones, but never the dev system's (the configuration's defaults).
    const names = (env: Env) => ({
      database: new URL(env.DATABASE_URL).pathname,
      vhost: vhostOf(env.RABBITMQ_URL),
      namespace: env.TEMPORAL_NAMESPACE,
      kafkaPrefix: env.KAFKA_TOPIC_PREFIX,
    });
    const ours = names(config());
    const devs = names(parseConfig({}));
    for (const key of Object.keys(ours) as (keyof typeof ours)[]) expect({ [key]: ours[key] }).not.toEqual({ [key]: devs[key] });
  });

  it('is provisioned on every server', async () => {
    for (const service of ['postgres', 'rabbitmq', 'kafka', 'temporal'] as const) requireService(service);

    const db = createKnex({ poolMax: 1, applicationName: 'test-environment' });
    try {
      const { rows } = await db.raw<{ rows: { owner: string; events: string | null }[] }>(
        "SELECT pg_get_userbyid(datdba) AS owner, to_regclass('public.events')::text AS events FROM pg_database WHERE datname = current_database()",
      );
      expect(rows).toEqual([{ owner: new URL(config().DATABASE_URL).username, events: 'events' }]);
    } finally {
      await db.destroy();
    }

    const connection = await connectRabbitMq('test-environment');
    await connection.close();

    const admin = createKafka('test-environment').admin();
    await admin.connect();
    try {
      expect(await admin.listTopics()).toEqual(expect.arrayContaining(Object.values(kafkaTopics())));
    } finally {
      await admin.disconnect();
    }

    const client = await connectTemporalClient();
    try {
      const { customAttributes } = await client.connection.operatorService.listSearchAttributes({ namespace: config().TEMPORAL_NAMESPACE });
      const wanted = (readStackEnv().TEMPORAL_SEARCH_ATTRIBUTES ?? '').split(' ').map((pair) => pair.split('=')[0]);
      expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(wanted));
    } finally {
      await client.connection.close();
    }
  });
});
