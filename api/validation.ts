import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifyInstance, FastifySchemaValidationError } from 'fastify';

/**
 * Request validation, with the JSON Schemas of api/schemas.ts (the same ones /openapi.json publishes).
 *
 * Bodies are JSON and are taken as typed: no coercion, so "2", true or [3] is not a quantity. Query
 * strings, path parameters and headers are text by nature, so there a value is coerced to the
 * documented type (`?limit=5` is the integer 5). Defaults the schema names are filled in; nothing
 * unknown is silently removed (strict objects refuse it instead).
 */
const COMMON = { useDefaults: true, removeAdditional: false, allErrors: false } as const;

// How a query value spells a number or a boolean: ajv alone would also read "1e1", " 5" or "0x10" as numbers.
const SPELLINGS: Record<string, RegExp> = {
  integer: /^-?\d{1,16}$/,
  number: /^-?\d{1,16}(?:\.\d{1,16})?$/,
  boolean: /^(?:true|false)$/,
};

type Validate = ((data: unknown) => boolean) & { errors?: FastifySchemaValidationError[] | null };

/** A text part's validator that first holds every number and boolean to its plain spelling, then coerces. */
function strictSpellings(schema: unknown, validate: Validate): Validate {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> }).properties ?? {};
  const typed = Object.entries(properties).filter(([, p]) => typeof p.type === 'string' && p.type in SPELLINGS);
  if (typed.length === 0) return validate;
  const wrapped: Validate = (data) => {
    for (const [name, property] of typed) {
      const value = (data as Record<string, unknown> | null)?.[name];
      const values = Array.isArray(value) ? value : [value];
      if (values.some((v) => typeof v === 'string' && !SPELLINGS[property.type as string]!.test(v))) {
        wrapped.errors = [{ instancePath: `/${name}`, schemaPath: `#/properties/${name}/type`, keyword: 'type', params: { type: property.type }, message: `must be ${String(property.type)}` }];
        return false;
      }
    }
    const valid = validate(data);
    wrapped.errors = validate.errors;
    return valid;
  };
  return wrapped;
}

/** The schemas the validators were compiled from, by "METHOD /url part" (part: body, querystring, params, headers). */
export type CompiledSchemas = Map<string, unknown>;

export function installValidators(app: FastifyInstance): CompiledSchemas {
  const factory = AjvCompiler();
  const bodies = factory({}, { customOptions: { ...COMMON, coerceTypes: false } });
  const text = factory({}, { customOptions: { ...COMMON, coerceTypes: 'array' } });
  const compiled: CompiledSchemas = new Map();
  app.setValidatorCompiler((route) => {
    compiled.set(`${route.method} ${route.url} ${route.httpPart ?? ''}`, route.schema);
    return route.httpPart === 'body' ? bodies(route) : strictSpellings(route.schema, text(route) as Validate);
  });
  return compiled;
}
