export * from './types';
export * from './errors';
export { EventRegistry, defineEvent, type EventDefinition, type Upcaster } from './registry';
export { PostgresEventStore, streamTypeOf, type EventStoreOptions, type AppendOptions, type ReadAllOptions, type ReadAllResult, type ReadStreamOptions } from './postgres-event-store';
export { NOTIFY_CHANNEL } from './notifier';
export { subscribe, listenForAppends, type Subscription, type SubscriptionOptions } from './subscription';
export { loadCheckpoint, saveCheckpoint } from './checkpoints';
export { DEFAULT_MAX_EVENT_BYTES } from './validation';
export { deterministicEventId } from './event-ids';
