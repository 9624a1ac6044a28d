import { defineSearchAttributeKey } from '@temporalio/common';

/** The custom search attributes the stack registers (stack/stack.env); the Web UI filters on them. */
export const OrderStatusKey = defineSearchAttributeKey('OrderStatus', 'KEYWORD');
export const CustomerIdKey = defineSearchAttributeKey('CustomerId', 'KEYWORD');
export const OrderTotalKey = defineSearchAttributeKey('OrderTotal', 'DOUBLE');
