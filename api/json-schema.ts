import { z } from 'zod';

/**
 * zod -> JSON Schema for the API. Fastify validates with what this returns and /openapi.json publishes
 * it, so the domain's zod rules are the one source of both.
 *
 * Regular expressions are rewritten into a portable subset: JSON Schema patterns carry no flags, and
 * the clients that read /openapi.json (generators, Python test tools) do not share JavaScript's meaning
 * of `\d`, `\s` or `.`. The rewrite spells those out as explicit classes with JavaScript's meaning, and
 * turns the `s` flag into a class that matches line terminators too.
 */

export type JsonSchema = { [keyword: string]: unknown };

// What JavaScript's \s matches (ECMA-262 WhiteSpace and LineTerminator), as class contents.
const JS_WHITESPACE = '\\t\\n\\u000b\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';
const LINE_TERMINATORS = '\\n\\r\\u2028\\u2029';

const OUTSIDE_CLASS: Record<string, string> = {
  d: '[0-9]',
  D: '[^0-9]',
  w: '[A-Za-z0-9_]',
  W: '[^A-Za-z0-9_]',
  s: `[${JS_WHITESPACE}]`,
  S: `[^${JS_WHITESPACE}]`,
};
const INSIDE_CLASS: Record<string, string> = { d: '0-9', w: 'A-Za-z0-9_', s: JS_WHITESPACE };

/** A regex's source rewritten so that any ECMA-262 or Python engine reads it as JavaScript does. */
export function portablePattern(regex: RegExp): string {
  const unsupported = regex.flags.replace(/[su]/g, '');
  if (unsupported) throw new Error(`pattern /${regex.source}/${regex.flags}: flags "${unsupported}" have no JSON Schema form`);
  const dotAll = regex.flags.includes('s');
  const source = regex.source;
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const char = source[i]!;
    if (char === '\\') {
      const next = source[i + 1] ?? '';
      i++;
      const replacement = inClass ? INSIDE_CLASS[next] : OUTSIDE_CLASS[next];
      if (replacement !== undefined) out += replacement;
      else if (inClass && 'DSW'.includes(next)) throw new Error(`pattern /${source}/: \\${next} inside a class has no portable form`);
      else out += char + next;
    } else if (inClass) {
      if (char === ']') inClass = false;
      out += char;
    } else if (char === '[') {
      inClass = true;
      out += char;
      // A leading ']' or '^]' is literal in some engines and an empty class in JavaScript: keep it out.
      if (source[i + 1] === ']' || (source[i + 1] === '^' && source[i + 2] === ']')) {
        throw new Error(`pattern /${source}/: an empty class has no portable form`);
      }
    } else if (char === '.') {
      out += dotAll ? `(?:[^${LINE_TERMINATORS}]|[${LINE_TERMINATORS}])` : `[^${LINE_TERMINATORS}]`;
    } else {
      out += char;
    }
  }
  return out;
}

interface ZodCheckDef {
  check?: string;
  format?: string;
  pattern?: unknown;
}
interface ZodInternals {
  _zod?: { def?: ZodCheckDef & { type?: string; checks?: { _zod?: { def?: ZodCheckDef } }[] } };
}

/** JSON Schema formats that zod's string formats stand for. */
const FORMATS = new Set(['date', 'date-time', 'time', 'email', 'uuid', 'uri', 'ipv4', 'ipv6']);
const ZOD_FORMATS: Record<string, string> = { datetime: 'date-time' };

function rewritePatterns(ctx: { zodSchema: unknown; jsonSchema: JsonSchema }): void {
  const def = (ctx.zodSchema as ZodInternals)._zod?.def;
  if (!def) return;
  const checks = (def.checks ?? []).map((check) => check._zod?.def ?? {});
  // A refinement is code, not JSON Schema: the API would publish and validate less than the domain checks.
  if (checks.some((check) => check.check === 'custom')) {
    throw new Error('a zod refinement (.refine/.superRefine) has no JSON Schema form: express the rule as .regex() or another check');
  }
  if (def.type !== 'string') return;
  const patterns = [def.pattern, ...checks.map((check) => check.pattern)].filter((p): p is RegExp => p instanceof RegExp);
  if (patterns.length === 0) return;
  const portable = [...new Set(patterns.map(portablePattern))];
  const json = ctx.jsonSchema;
  delete json.pattern;
  if (Array.isArray(json.allOf)) {
    // zod writes one part per pattern ({ pattern } or { type: 'string', pattern }): all are replaced below.
    json.allOf = (json.allOf as JsonSchema[]).filter((part) => !('pattern' in part && Object.keys(part).every((key) => key === 'pattern' || key === 'type')));
    if ((json.allOf as JsonSchema[]).length === 0) delete json.allOf;
  }
  if (portable.length === 1) json.pattern = portable[0];
  else json.allOf = [...((json.allOf as JsonSchema[] | undefined) ?? []), ...portable.map((pattern) => ({ pattern }))];
  // zod drops the format when it writes allOf: keep it, it is what tools show and ajv checks too.
  const format = def.format ? (ZOD_FORMATS[def.format] ?? def.format) : undefined;
  if (format && FORMATS.has(format)) json.format = format;
}

/**
 * The JSON Schema of a zod schema: `input` for what a request may send (defaults optional), `output`
 * for what a response holds. Anything zod cannot express in JSON Schema throws (it would be an
 * unpublished rule).
 */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output' = 'input'): JsonSchema {
  const json = z.toJSONSchema(schema, {
    target: 'draft-7',
    io,
    unrepresentable: 'throw',
    override: rewritePatterns,
  }) as JsonSchema;
  delete json.$schema;
  return json;
}
