import { checkLeaseTimings, holdsLease, leadershipChange, leaseMarginMs, leaseValidUntil } from '../../../messaging/relay/relay-lease';

describe('relay lease decisions', () => {
  it('trusts a grant from before the request was sent, less the margin', () => {
    expect(leaseValidUntil(1000, { epoch: 3n, remainingMs: 5000 }, 250)).toBe(5750);
  });

  it('holds a lease until its local deadline, and never without one', () => {
    const lease = { epoch: 1n, validUntil: 5000 };
    expect(holdsLease(lease, 4999)).toBe(true);
    expect(holdsLease(lease, 5000)).toBe(false);
    expect(holdsLease(undefined, 0)).toBe(false);
  });

  it('tells a renewal from a new term, a loss and standing by', () => {
    const held = { epoch: 4n, validUntil: 10_000 };
    expect(leadershipChange(held, 9000, { epoch: 4n, remainingMs: 5000 })).toBe('renewed');
    expect(leadershipChange(undefined, 9000, { epoch: 5n, remainingMs: 5000 })).toBe('acquired');
    // Granted again after the local deadline passed: a new term, whose lane reloads its checkpoint.
    expect(leadershipChange(held, 10_001, { epoch: 5n, remainingMs: 5000 })).toBe('acquired');
    expect(leadershipChange(held, 10_001, { epoch: 4n, remainingMs: 5000 })).toBe('acquired');
    expect(leadershipChange(held, 9000, undefined)).toBe('lost');
    expect(leadershipChange(held, 10_001, undefined)).toBe('lost');
    expect(leadershipChange(undefined, 9000, undefined)).toBe('standby');
  });

  it('keeps a margin of a twentieth of the TTL, at most 250 ms', () => {
    expect(leaseMarginMs(1000)).toBe(50);
    expect(leaseMarginMs(5000)).toBe(250);
    expect(leaseMarginMs(60_000)).toBe(250);
  });

  it('refuses a renew interval longer than half the TTL', () => {
    expect(() => checkLeaseTimings(5000, 1000)).not.toThrow();
    expect(() => checkLeaseTimings(5000, 2500)).not.toThrow();
    expect(() => checkLeaseTimings(5000, 2501)).toThrow(/at most half/);
  });
});
