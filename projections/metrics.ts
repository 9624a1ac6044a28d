import type { Knex } from 'knex';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { PostgresEventStore } from '../eventstore';
import type { Logger } from '../infra/logger';
import type { ConsumerObserver } from '../messaging/handler';
import { readOnScrape } from '../infra/observability';
import { projectionLag, type ProjectionLag } from './lag';
import type { ProjectionName } from './names';
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
  const messages = new Counter({
    name: 'projector_messages_total',
    help: 'Broker deliveries whose transaction committed (processed) or that were applied before (duplicate)',
    labelNames: ['outcome'] as const,
    registers,
  });
  const errors = new Counter({
    name: 'projector_errors_total',
    help: 'Deliveries whose handler failed, by what happened next: retry, or park in the DLQ',
    labelNames: ['action'] as const,
    registers,
  });
  const applied = new Counter({
    name: 'projector_events_applied_total',
    help: 'Events applied to the read model, including those fetched from the event store',
    labelNames: ['projection'] as const,
    registers,
  });
  const duplicates = new Counter({
    name: 'projector_duplicate_events_total',
    help: 'Delivered events skipped because the projection had applied them already',
    labelNames: ['projection'] as const,
    registers,
  });
  const fetched = new Counter({
    name: 'projector_gap_fetched_events_total',
    help: 'Events read from the event store because a delivery arrived ahead of them',
    labelNames: ['projection'] as const,
    registers,
  });
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
  const lagGauge = (name: string, help: string, value: (lag: ProjectionLag) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['projection'] as const,
      registers,
      async collect() {
        await refreshLags();
        for (const lag of lags) this.set({ projection: lag.projection }, value(lag));
      },
    });
  };
  lagGauge('projection_position', 'Global position up to which every Order event is applied', (lag) => Number(lag.position.globalPosition));
  lagGauge('projection_head_position', "The event store's head, as the projection's lag was measured against", (lag) => Number(lag.head));
  lagGauge('projection_lag_events', 'Order events up to the head not applied yet', (lag) => lag.events);
  lagGauge('projection_lag_seconds', 'Age of the oldest Order event not applied yet (0 when caught up)', (lag) => lag.seconds);

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
