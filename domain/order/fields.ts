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
// Not blank and without surrounding spaces; checked, not trimmed, so that a fact is stored exactly as stated.
const TRIMMED_TEXT = /^\S(?:.*\S)?$/s;
/** Ids chosen by other systems (customers, reservations, payments, shipments, carriers). */
export const ReferenceSchema = z.string().max(MAX_REFERENCE_LENGTH).regex(TRIMMED_TEXT);
export const ReasonSchema = z.string().max(MAX_REASON_LENGTH).regex(TRIMMED_TEXT);
/** UTC ISO 8601, as Date#toISOString writes it: events are JSON, and one format keeps them comparable. */
export const TimestampSchema = z.iso.datetime();
export const QuantitySchema = z.number().int().positive();
