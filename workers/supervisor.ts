/**
 * Runs the system's long-running processes as children: restarts one that dies, prefixes its output
 * lines with its name, and stops them all gracefully (SIGTERM, then SIGKILL after a grace period).
 * `npm start` runs the whole system with it; the chaos test uses it to kill processes and watch them
 * come back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { formatConsoleLine } from './console-format';
import { WORKER_ROLES } from '../composition/worker-roles';

export interface ProcessSpec {
  name: string;
  /** A TypeScript entrypoint, relative to the repository root. */
  entrypoint: string;
  args: string[];
  /** Put over the supervisor's environment for this process (a replica's ports). */
  env?: Record<string, string>;
}

/** Every long-running process of the system: a Temporal worker per task queue, the relay, the projectors, the API. */
export const SYSTEM_PROCESSES: readonly ProcessSpec[] = [
  ...WORKER_ROLES.map((role) => ({ name: `worker-${role}`, entrypoint: 'workers/order-worker.ts', args: [role] })),
  { name: 'relay', entrypoint: 'workers/relay.ts', args: [] },
  { name: 'order-projector', entrypoint: 'workers/projector.ts', args: ['order'] },
  { name: 'analytics-projector', entrypoint: 'workers/projector.ts', args: ['analytics'] },
  { name: 'api', entrypoint: 'api/main.ts', args: [] },
];

/** The ports a process listens on, by variable: each replica after the first gets its own. */
export interface ReplicaPorts {
  API_PORT: number;
  RELAY_METRICS_PORT: number;
  PROJECTOR_ORDER_METRICS_PORT: number;
  PROJECTOR_ANALYTICS_METRICS_PORT: number;
  /** The first worker's Temporal SDK metrics port (the workers' roles take the next ones); unset: as the environment says. */
  WORKER_METRICS_PORT?: number;
}

/** Replica n (from 1) of every process: the API on port API_PORT + n - 1, metrics servers 10 ports apart. */
export function replicaPorts(base: ReplicaPorts, replica: number): ReplicaPorts {
  const step = replica - 1;
  const metrics = (port: number): number => (port === 0 ? 0 : port + 10 * step);
  return {
    API_PORT: base.API_PORT + step,
    RELAY_METRICS_PORT: metrics(base.RELAY_METRICS_PORT),
    PROJECTOR_ORDER_METRICS_PORT: metrics(base.PROJECTOR_ORDER_METRICS_PORT),
    PROJECTOR_ANALYTICS_METRICS_PORT: metrics(base.PROJECTOR_ANALYTICS_METRICS_PORT),
    ...(base.WORKER_METRICS_PORT === undefined ? {} : { WORKER_METRICS_PORT: metrics(base.WORKER_METRICS_PORT) }),
  };
}

/**
 * `replicas` instances of every process, named `<name>-<n>` when more than one, each listening on its
 * replica's ports. The relays elect one leader per lane; the workers, projectors and API instances share
 * the work (Temporal task queues, RabbitMQ competing consumers, Kafka group members).
 */
export function replicate(specs: readonly ProcessSpec[], replicas: number, base: ReplicaPorts): ProcessSpec[] {
  if (!Number.isInteger(replicas) || replicas < 1) throw new RangeError(`replicas must be a positive integer: ${replicas}`);
  if (replicas === 1) return [...specs];
  return Array.from({ length: replicas }, (_, i) => {
    const ports = Object.fromEntries(Object.entries(replicaPorts(base, i + 1)).map(([key, port]) => [key, String(port)]));
    return specs.map((spec) => ({ ...spec, name: `${spec.name}-${i + 1}`, env: { ...spec.env, ...ports } }));
  }).flat();
}

/**
 * The codec server the Web UI and the temporal CLI decode payloads through: run by `npm start` beside
 * SYSTEM_PROCESSES (it needs the codec's keys and a fixed port, which the throw-away environments of
 * the chaos test and bench:e2e do not give it).
 */
export const CODEC_SERVER_PROCESS: ProcessSpec = { name: 'codec-server', entrypoint: 'workers/codec-server.ts', args: [] };

export interface SupervisorOptions {
  /** The children's environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  restartDelayMs?: number;
  /** Each line a child writes, with its name (default: to this process's stdout/stderr, prefixed). */
  onLine?: (name: string, line: string, stream: 'stdout' | 'stderr') => void;
  /** Told whenever a child exits while the supervisor is not stopping. */
  onExit?: (name: string, code: number | null, signal: NodeJS.Signals | null) => void;
}

const REPO_DIR = path.resolve(__dirname, '..');

/** On a terminal, readable coloured lines (console-format.ts); otherwise each child's line as it is (JSON), prefixed. */
const printLine = (name: string, line: string, stream: 'stdout' | 'stderr'): void => {
  const out = stream === 'stdout' ? process.stdout : process.stderr;
  const text = out.isTTY ? formatConsoleLine(name, line, { color: !process.env.NO_COLOR }) : `[${name}] ${line}`;
  out.write(`${text}\n`);
};

export class Supervisor {
  private readonly children = new Map<string, ChildProcess>();
  private readonly specs = new Map<string, ProcessSpec>();
  private readonly restartCounts = new Map<string, number>();
  private readonly startedAt = new Map<string, number>();
  private readonly pendingRestarts = new Set<NodeJS.Timeout>();
  private stopping = false;

  constructor(private readonly options: SupervisorOptions = {}) {}

  start(specs: readonly ProcessSpec[]): void {
    for (const spec of specs) {
      if (this.specs.has(spec.name)) throw new Error(`A process named ${spec.name} is already supervised`);
      this.specs.set(spec.name, spec);
      this.run(spec);
    }
  }

  names(): string[] {
    return [...this.specs.keys()];
  }

  /** The pid of a running child, if it runs. */
  pid(name: string): number | undefined {
    return this.children.get(name)?.pid;
  }

  /** How long the child has been running since it was (re)started, or undefined when it does not run. */
  uptimeMs(name: string): number | undefined {
    const started = this.startedAt.get(name);
    return this.children.has(name) && started !== undefined ? Date.now() - started : undefined;
  }

  restarts(name: string): number {
    return this.restartCounts.get(name) ?? 0;
  }

  /** Sends a signal to one child (the supervisor restarts it once it exits). False if it was not running. */
  kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): boolean {
    const child = this.children.get(name);
    return child ? child.kill(signal) : false;
  }

  /** SIGTERM to every child; SIGKILL to those still running after the grace period. */
  async stop(graceMs = 15_000): Promise<void> {
    this.stopping = true;
    for (const timer of this.pendingRestarts) clearTimeout(timer);
    this.pendingRestarts.clear();
    const exits = [...this.children.values()].map(
      (child) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()))),
    );
    for (const child of this.children.values()) child.kill('SIGTERM');
    const killer = setTimeout(() => {
      for (const child of this.children.values()) child.kill('SIGKILL');
    }, graceMs);
    await Promise.all(exits);
    clearTimeout(killer);
  }

  private run(spec: ProcessSpec): void {
    // node with tsx as a loader (not the tsx wrapper), so that signals reach the process itself.
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_DIR, spec.entrypoint), ...spec.args], {
      cwd: REPO_DIR,
      env: { ...(this.options.env ?? process.env), ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.set(spec.name, child);
    this.startedAt.set(spec.name, Date.now());
    const onLine = this.options.onLine ?? printLine;
    readline.createInterface({ input: child.stdout! }).on('line', (line) => onLine(spec.name, line, 'stdout'));
    readline.createInterface({ input: child.stderr! }).on('line', (line) => onLine(spec.name, line, 'stderr'));
    child.on('exit', (code, signal) => {
      if (this.children.get(spec.name) === child) this.children.delete(spec.name);
      if (this.stopping) return;
      this.options.onExit?.(spec.name, code, signal);
      const timer = setTimeout(() => {
        this.pendingRestarts.delete(timer);
        if (this.stopping) return;
        this.restartCounts.set(spec.name, this.restarts(spec.name) + 1);
        this.run(spec);
      }, this.options.restartDelayMs ?? 1000);
      this.pendingRestarts.add(timer);
    });
  }
}
