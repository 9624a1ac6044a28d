import { ConfigError, parseConfig } from '../../config';

describe('configuration', () => {
  it('defaults to the local stack', () => {
    const env = parseConfig({});
    expect(env.TEMPORAL_NAMESPACE).toBe('default');
    expect(env.KAFKA_BROKERS).toEqual(['127.0.0.1:9092']);
  });

  it('reads cluster settings from the environment', () => {
    const env = parseConfig({
      KAFKA_BROKERS: 'b1:9093, b2:9093',
      KAFKA_SSL: 'true',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'p',
      TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
      TEMPORAL_API_KEY: 'key',
    });
    expect(env.KAFKA_BROKERS).toEqual(['b1:9093', 'b2:9093']);
    expect(env.KAFKA_SSL).toBe(true);
    expect(env.TEMPORAL_API_KEY).toBe('key');
  });

  it('names every invalid variable in one clear error', () => {
    let caught: unknown;
    try {
      parseConfig({ API_PORT: '99999', RABBITMQ_URL: 'http://nope', DATABASE_URL: 'not a url' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const message = (caught as ConfigError).message;
    expect(message).toContain('API_PORT');
    expect(message).toContain('RABBITMQ_URL');
    expect(message).toContain('DATABASE_URL');
  });

  it('rejects half-configured SASL', () => {
    expect(() => parseConfig({ KAFKA_SASL_MECHANISM: 'plain' })).toThrow(/KAFKA_SASL_USERNAME/);
  });
});

describe('payment capture delay', () => {
  it('defaults to none and takes whole milliseconds only', () => {
    expect(parseConfig({}).PAYMENTS_CAPTURE_DELAY_MS).toBe(0);
    expect(parseConfig({ PAYMENTS_CAPTURE_DELAY_MS: '2500' }).PAYMENTS_CAPTURE_DELAY_MS).toBe(2500);
    expect(() => parseConfig({ PAYMENTS_CAPTURE_DELAY_MS: 'soon' })).toThrow(/PAYMENTS_CAPTURE_DELAY_MS/);
    expect(() => parseConfig({ PAYMENTS_CAPTURE_DELAY_MS: '-1' })).toThrow(/PAYMENTS_CAPTURE_DELAY_MS/);
  });
});
