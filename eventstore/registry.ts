import type { z } from 'zod';
import { InvalidEventError, UnknownEventTypeError } from './errors';

/** Turns a payload of schema version N into version N + 1. */
export type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;

export interface EventDefinition<Type extends string = string, Schema extends z.ZodType = z.ZodType> {
  type: Type;
  /** The current schema version; new events are written with it. */
  schemaVersion: number;
  /** Validates a payload of the current schema version. */
  schema: Schema;
  /** upcasters[n] turns version n into n + 1, for every n below schemaVersion that is still stored. */
  upcasters?: Readonly<Record<number, Upcaster>>;
}

/** Declares an event type with its payload schema and version, keeping its literal type. */
export function defineEvent<Type extends string, Schema extends z.ZodType>(
  definition: EventDefinition<Type, Schema>,
): EventDefinition<Type, Schema> {
  return definition;
}

/**
 * The one registry of event types: it validates payloads on append and upcasts old payloads on read.
 */
export class EventRegistry {
  private readonly definitions = new Map<string, EventDefinition>();

  constructor(definitions: readonly EventDefinition[] = []) {
    for (const definition of definitions) this.register(definition);
  }

  register(definition: EventDefinition): this {
    if (this.definitions.has(definition.type)) {
      throw new Error(`Event type "${definition.type}" is registered twice`);
    }
    for (let v = 1; v < definition.schemaVersion; v++) {
      if (definition.upcasters && !definition.upcasters[v]) {
        throw new Error(`Event type "${definition.type}" has upcasters but none from version ${v}`);
      }
    }
    this.definitions.set(definition.type, definition);
    return this;
  }

  has(type: string): boolean {
    return this.definitions.has(type);
  }

  definition(type: string): EventDefinition {
    const definition = this.definitions.get(type);
    if (!definition) throw new UnknownEventTypeError(type);
    return definition;
  }

  /** Validates a payload for writing; returns the parsed payload and the version to store it under. */
  validateForAppend(type: string, data: unknown): { data: unknown; schemaVersion: number } {
    const definition = this.definition(type);
    const parsed = definition.schema.safeParse(data);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`).join('; ');
      throw new InvalidEventError(`Payload of ${type} does not match schema v${definition.schemaVersion}: ${issues}`);
    }
    return { data: parsed.data, schemaVersion: definition.schemaVersion };
  }

  /** Brings a stored payload up to its type's current schema version. */
  upcast(type: string, schemaVersion: number, data: unknown): { data: unknown; schemaVersion: number } {
    const definition = this.definitions.get(type);
    // Events of types this process does not know are passed through unchanged (e.g. other services').
    if (!definition || schemaVersion >= definition.schemaVersion) return { data, schemaVersion };
    let current = data as Record<string, unknown>;
    for (let v = schemaVersion; v < definition.schemaVersion; v++) {
      const upcaster = definition.upcasters?.[v];
      if (!upcaster) throw new InvalidEventError(`No upcaster for ${type} from schema version ${v}`);
      current = upcaster(current);
    }
    return { data: current, schemaVersion: definition.schemaVersion };
  }
}
