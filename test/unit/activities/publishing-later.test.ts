import { PublishingBesideAppend, type PublishingDependencies } from '../../../activities/publishing';
import type { PostgresEventStore, StoredEvent } from '../../../eventstore';
import type { EventPublisher } from '../../../messaging/publisher';
import { context, inSpan, startTracing, trace } from '../../../infra/tracing';

/**
 * The background publishing's own logic (which trace a batch belongs to), with the store's read and
 * the broker as stand-ins: the integration test (test/integration/messaging/relay.test.ts) runs it
 * against the real store and brokers.
 */
describe('publishing after the append answered', () => {
  const tracing = (() => {
    // Nothing listens there; the batch processor drops what it cannot send.
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = 'http://127.0.0.1:9';
    delete process.env.OTEL_SDK_DISABLED;
    return startTracing('unit-test');
  })();
  afterAll(() => tracing?.shutdown().catch(() => undefined));

  it("publishes outside the span of the append that started the batch, so other orders' events are not put in its trace", async () => {
    const storedRead = { readStream: async (_streamId: string, options: { limit?: number } = {}) => new Array<StoredEvent>(options.limit ?? 1).fill({} as StoredEvent) };
    const activeAtPublish: (string | undefined)[] = [];
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const broker: EventPublisher = {
      broker: 'kafka',
      maxInFlightBatches: 1,
      close: async () => undefined,
      async publish() {
        activeAtPublish.push(trace.getSpan(context.active())?.spanContext().spanId);
        await held;
      },
    };
    const deps = { store: storedRead as unknown as PostgresEventStore, publishers: [broker] } satisfies PublishingDependencies;
    const publishing = new PublishingBesideAppend(deps);
    // Each append runs in its activity's span; the first one starts the batches.
    await inSpan('append order A', {}, async () => publishing.publishLater({ orderId: 'a', fromVersion: 1, toVersion: 2 }));
    await inSpan('append order B', {}, async () => publishing.publishLater({ orderId: 'b', fromVersion: 1, toVersion: 1 }));
    release();
    await publishing.flush();
    expect(activeAtPublish).toEqual([undefined, undefined]);
  });
});
