import type { Knex } from 'knex';
import type { Client } from '@temporalio/client';
import type { Admin } from 'kafkajs';
import { config } from '../config';
import type { ReadinessChecks } from '../infra/observability';

/** What /health/ready checks: every server the API's answers depend on. */
export function readinessChecks(deps: { db: Knex; temporal: Client; kafkaAdmin: Admin }): ReadinessChecks {
  return {
    postgres: async () => {
      await deps.db.raw('SELECT 1');
    },
    temporal: async () => {
      await deps.temporal.workflowService.getSystemInfo({});
    },
    rabbitmq: async () => {
      const url = new URL('/api/health/checks/alarms', config().RABBITMQ_MANAGEMENT_URL);
      const auth = Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64');
      url.username = '';
      url.password = '';
      const response = await fetch(url, { headers: { authorization: `Basic ${auth}` } });
      if (!response.ok) throw new Error(`management API answered ${response.status}`);
    },
    kafka: async () => {
      await deps.kafkaAdmin.describeCluster();
    },
  };
}
