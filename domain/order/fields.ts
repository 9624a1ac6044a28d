import { z } from 'zod';

/*
 * Field shapes shared by the event schemas (which guard what is stored) and the command checks (which turn
 * bad input into clear domain errors before anything is stored).
 */

// Order ids end up in stream ids, workflow ids, message keys and URLs, hence the conservative alphabet.
export const ORDER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const SKU_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const MAX_REFERENCE_LENGTH = 200;
export const MAX_REASON_LENGTH = 1000;

export const OrderIdSchema = z.string().regex(ORDER_ID_PATTERN);
export const SkuSchema = z.string().regex(SKU_PATTERN);

/*
 * Text that Postgres can store and a person can read. jsonb refuses \u0000 and lone surrogates (and text
 * columns refuse NUL), so such a value, accepted once, would make its append fail on every retry; other
 * control characters (C0, DEL, C1) have no place in a reason or an id either. In unicode mode a
 * surrogate range matches only an unpaired surrogate, so emoji pass and \ud800 does not; as a pattern,
 * the rule reaches JSON Schema (the API's validation) too.
 */
const CONTROL_CHARACTERS = '\\u0000-\\u001f\\u007f-\\u009f';
const SURROGATES = '\\ud800-\\udfff';
const UNSTORABLE_CHARACTERS = new RegExp(`[${CONTROL_CHARACTERS}${SURROGATES}]`, 'gu');
// Two patterns, so that tools that cannot read a surrogate range (Python's test generators) still
// read the control-character one.
const NO_CONTROL_CHARACTERS = new RegExp(`^[^${CONTROL_CHARACTERS}]*$`);
const NO_UNPAIRED_SURROGATES = new RegExp(`^[^${SURROGATES}]*$`, 'u');

/** True when the text has no control character and no unpaired surrogate. */
export function isStorableText(text: string): boolean {
  return NO_CONTROL_CHARACTERS.test(text) && NO_UNPAIRED_SURROGATES.test(text);
}

/**
 * Makes any text (an error message, say) fit the rules of a reason: control characters and unpaired
 * surrogates become spaces, white space is folded, and it is cut to `max` characters.
 */
export function toStorableText(text: string, max: number, fallback = 'unknown'): string {
  const cleaned = text.replace(UNSTORABLE_CHARACTERS, ' ').replace(/\s+/g, ' ').trim();
  if (cleaned === '') return fallback;
  if (cleaned.length <= max) return cleaned;
  // Cut between code points (never inside a surrogate pair), leaving room for the ellipsis.
  let cut = '';
  for (const codePoint of cleaned) {
    if (cut.length + codePoint.length > max - 1) break;
    cut += codePoint;
  }
  return `${cut.trimEnd()}…`;
}

// Not blank and without surrounding spaces; checked, not trimmed, so that a fact is stored exactly as stated.
const TRIMMED_TEXT = /^\S(?:.*\S)?$/s;
const StorableText = z
  .string()
  .regex(TRIMMED_TEXT)
  .regex(NO_CONTROL_CHARACTERS, 'must not contain control characters')
  .regex(NO_UNPAIRED_SURROGATES, 'must not contain unpaired surrogates');
/** Ids chosen by other systems (customers, reservations, payments, shipments, carriers). */
export const ReferenceSchema = StorableText.max(MAX_REFERENCE_LENGTH);
export const ReasonSchema = StorableText.max(MAX_REASON_LENGTH);
/** UTC ISO 8601, as Date#toISOString writes it: events are JSON, and one format keeps them comparable. */
export const TimestampSchema = z.iso.datetime();
export const QuantitySchema = z.number().int().positive();
