import type { Knex } from 'knex';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { PostgresEventStore } from '../../eventstore';
import type { Logger } from '../../infra/logger';
import type { ConsumerObserver } from '../../messaging/handler';
import { readOnScrape, scrapedGauges } from '../../infra/observability';
import { projectionLag, type ProjectionLag } from './lag';
import type { ProjectionName } from '../read-models/names';
import type { ApplyResult } from './runner';

export interface ProjectorMetricsOptions {
  db: Knex;
  store: PostgresEventStore;
  /** The schema of the read models (whose watermarks the lag reads). */
  schema: string;
  projections: readonly ProjectionName[];
  logger: Logger;
  /** The longest a scrape waits for the lag query before serving the previous figures (default 3 s). */
  lagTimeoutMs?: number;
}

export interface ProjectorMetrics {
  /** Counts what a projection's batch did; call only once its transaction has committed. */
  applied(projection: ProjectionName, result: ApplyResult): void;
  /** For the broker consumer: deliveries processed, skipped as duplicates, failed. */
  readonly observer: ConsumerObserver;
}

/**
 * A projector's Prometheus metrics: what it applied, skipped and fetched, its consumer's failures, and
 * each projection's position and lag behind the event store's head (read when scraped).
 */
export function projectorMetrics(registry: Registry, options: ProjectorMetricsOptions): ProjectorMetrics {
  const registers = [registry];
  const counter = <Label extends string>(name: string, help: string, label: Label): Counter<Label> =>
    new Counter({ name, help, labelNames: [label], registers });
  const messages = counter(
    'projector_messages_total',
    'Broker deliveries whose transaction committed (processed) or that were applied before (duplicate)',
    'outcome',
  );
  const errors = counter('projector_errors_total', 'Deliveries whose handler failed, by what happened next: retry, or park in the DLQ', 'action');
  const applied = counter('projector_events_applied_total', 'Events applied to the read model, including those fetched from the event store', 'projection');
  const duplicates = counter('projector_duplicate_events_total', 'Delivered events skipped because the projection had applied them already', 'projection');
  const fetched = counter('projector_gap_fetched_events_total', 'Events read from the event store because a delivery arrived ahead of them', 'projection');
  for (const projection of options.projections) {
    for (const counter of [applied, duplicates, fetched]) counter.inc({ projection }, 0);
  }
  for (const outcome of ['processed', 'duplicate']) messages.inc({ outcome }, 0);
  for (const action of ['retry', 'park']) errors.inc({ action }, 0);

  let lags: ProjectionLag[] = [];
  const refreshLags = readOnScrape(
    async () => {
      const next: ProjectionLag[] = [];
      for (const name of options.projections) next.push(await projectionLag(options.db, options.store, name, { schema: options.schema }));
      lags = next;
    },
    { timeoutMs: options.lagTimeoutMs, onError: (err) => options.logger.warn({ err: err.message }, 'could not read projection lag') },
  );
  const lagGauge = scrapedGauges(
    registry,
    'projection',
    async () => {
      await refreshLags();
      return lags;
    },
    (lag: ProjectionLag) => lag.projection,
  );
  lagGauge('projection_position', 'Global position up to which every Order event is applied', (lag) => Number(lag.position.globalPosition));
  lagGauge('projection_head_position', "The event store's head, as the projection's lag was measured against", (lag) => Number(lag.head));
  lagGauge('projection_lag_events', 'Order events up to the head not applied yet', (lag) => lag.events);
  lagGauge('projection_lag_seconds', 'Age of the oldest Order event not applied yet (0 when caught up)', (lag) => lag.seconds);

  if (options.projections.includes('order_view')) unsettledOrdersGauge(registry, options);

  return {
    applied(projection, result) {
      applied.inc({ projection }, result.applied);
      duplicates.inc({ projection }, result.duplicates);
      fetched.inc({ projection }, result.fetched);
    },
    observer: {
      delivered: (outcome) => messages.inc({ outcome }),
      failed: (_err, parked) => errors.inc({ action: parked ? 'park' : 'retry' }),
    },
  };
}

/**
 * Orders whose undo of a saga step could not be done (status compensation_failed), from the read model
 * when scraped: each one waits for an operator (see the README), so an alert on > 0 is the point.
 */
function unsettledOrdersGauge(registry: Registry, options: ProjectorMetricsOptions): void {
  let count = 0;
  const refresh = readOnScrape(
    async () => {
      const row = await options.db(`${options.schema}.order_view`).where({ status: 'compensation_failed' }).count<{ count: string }[]>('* as count').first();
      count = Number(row?.count ?? 0);
    },
    { onError: (err) => options.logger.warn({ err: err.message }, 'could not count orders awaiting an operator') },
  );
  new Gauge({
    name: 'orders_compensation_failed',
    help: 'Orders whose undo of a saga step could not be done (status compensation_failed): each needs an operator',
    registers: [registry],
    async collect() {
      await refresh();
      this.set(count);
    },
  });
}
