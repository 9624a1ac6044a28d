import { DomainError, isDomainError, ItemNotFoundError, OrderNotFoundError } from '../../../domain';

describe('DomainError', () => {
  it('carries a stable code, a message for the API caller and details', () => {
    const error = new ItemNotFoundError('order-1', 'SKU-9');
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ItemNotFoundError');
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      code: 'ITEM_NOT_FOUND',
      message: 'Order order-1 has no item with SKU "SKU-9".',
      details: { orderId: 'order-1', sku: 'SKU-9' },
    });
  });

  it('is recognised by code', () => {
    const error = new OrderNotFoundError('order-1');
    expect(isDomainError(error)).toBe(true);
    expect(isDomainError(error, 'ORDER_NOT_FOUND')).toBe(true);
    expect(isDomainError(error, 'ORDER_EMPTY')).toBe(false);
    expect(isDomainError(new Error('x'))).toBe(false);
  });
});
