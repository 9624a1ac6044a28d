import { SYSTEM_PROCESSES, replicaPorts, replicate } from '../../../workers/supervisor';

const base = { API_PORT: 3000, RELAY_METRICS_PORT: 9100, PROJECTOR_ORDER_METRICS_PORT: 9101, PROJECTOR_ANALYTICS_METRICS_PORT: 9102, WORKER_METRICS_PORT: 9103 };

describe('replicas of every process', () => {
  it('runs the processes as they are for one replica', () => {
    expect(replicate(SYSTEM_PROCESSES, 1, base)).toEqual(SYSTEM_PROCESSES);
  });

  it('names each replica and gives it ports of its own', () => {
    const specs = replicate(SYSTEM_PROCESSES, 2, base);
    expect(specs).toHaveLength(SYSTEM_PROCESSES.length * 2);
    expect(new Set(specs.map((s) => s.name)).size).toBe(specs.length);
    expect(specs.filter((s) => s.entrypoint === 'workers/relay.ts').map((s) => s.name)).toEqual(['relay-1', 'relay-2']);
    const api = specs.filter((s) => s.entrypoint === 'api/main.ts');
    expect(api.map((s) => s.env?.API_PORT)).toEqual(['3000', '3001']);
    // No two replicas listen on the same port, whatever the process.
    const listening = specs.flatMap((s) => Object.values(s.env ?? {}));
    expect(new Set(listening).size).toBe(2 * Object.keys(base).length);
  });

  it('leaves a port of 0 (any free port) as it is', () => {
    expect(replicaPorts({ ...base, RELAY_METRICS_PORT: 0 }, 3)).toEqual({
      API_PORT: 3002,
      RELAY_METRICS_PORT: 0,
      PROJECTOR_ORDER_METRICS_PORT: 9121,
      PROJECTOR_ANALYTICS_METRICS_PORT: 9122,
      WORKER_METRICS_PORT: 9123,
    });
  });

  it('refuses a replica count that is not a positive integer', () => {
    expect(() => replicate(SYSTEM_PROCESSES, 0, base)).toThrow(RangeError);
    expect(() => replicate(SYSTEM_PROCESSES, 1.5, base)).toThrow(RangeError);
  });
});
