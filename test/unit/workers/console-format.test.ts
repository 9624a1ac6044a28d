import { formatConsoleLine } from '../../../workers/console-format';

describe("the supervisor's terminal lines", () => {
  const record = (fields: Record<string, unknown>): string =>
    JSON.stringify({ level: 30, time: Date.UTC(2026, 0, 2, 12, 0, 1, 234), pid: 42, service: 'relay', name: 'relay', msg: 'relay lag', ...fields });

  it('turns a pino record into time, level, prefix, message and fields', () => {
    expect(formatConsoleLine('relay', record({ broker: 'kafka', lagEvents: 0, note: 'two words' }), { color: false })).toBe(
      '12:00:01.234 INFO  [relay] relay lag broker=kafka lagEvents=0 note="two words"',
    );
  });

  it('shows an error by its message, its stack below', () => {
    const line = record({ level: 50, msg: 'failed', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x' } });
    expect(formatConsoleLine('api', line, { color: false }).split('\n')).toEqual([
      '12:00:01.234 ERROR [api] failed err=boom',
      '[api]   Error: boom',
      '[api]       at x',
    ]);
  });

  it('keeps any other line as it is, behind the prefix', () => {
    expect(formatConsoleLine('worker-orders', 'plain text {not json', { color: false })).toBe('[worker-orders] plain text {not json');
    expect(formatConsoleLine('worker-orders', '{"no":"level"}', { color: false })).toBe('[worker-orders] {"no":"level"}');
  });

  it('colours level and prefix only when asked', () => {
    const coloured = formatConsoleLine('relay', record({ level: 40, msg: 'slow' }), { color: true });
    expect(coloured).toContain('\u001b[33mWARN ');
    expect(coloured).toContain('[relay]\u001b[0m');
    expect(formatConsoleLine('relay', record({}), { color: false })).not.toContain('\u001b[');
  });
});
