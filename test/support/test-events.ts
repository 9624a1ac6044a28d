import { z } from 'zod';
import { EventRegistry, defineEvent } from '../../eventstore';

/** Event types for event-store tests, independent of the order domain. */
export const ThingHappened = defineEvent({
  type: 'ThingHappened',
  schemaVersion: 1,
  schema: z.object({ n: z.number().int(), note: z.string().optional() }),
});

/** v1 stored { name }; v2 stores { fullName, renamedBy }. */
export const ThingRenamed = defineEvent({
  type: 'ThingRenamed',
  schemaVersion: 2,
  schema: z.object({ fullName: z.string().min(1), renamedBy: z.string() }),
  upcasters: { 1: (v1) => ({ fullName: v1.name, renamedBy: 'unknown' }) },
});

export const testRegistry = (): EventRegistry => new EventRegistry([ThingHappened, ThingRenamed]);
