/**
 * One service of a test network: its port stays its own across stop() and start(), so clients and
 * the other services find it again, and so does its data under the network's folder.
 */
import { freePort, startServiceProcess, type ServiceProcess } from '../lib/runtime/service-process.js';
import { DRIVERS, type DefinitionOf, type OptionsOf, type RunningOf, type ServiceName } from './services/index.js';

/** Order of starts across the process, so a network stops its services in the reverse order. */
let starts = 0;

/** A service of a {@link TestNetwork}, running or stopped. */
export class TestService<N extends ServiceName> {
  private instance: RunningOf<N> | undefined;
  private child: ServiceProcess | undefined;
  /** When it last started, in start order (0 when never). */
  startedAt = 0;

  constructor(
    readonly name: N,
    /** Its gRPC port, the same across restarts. */
    readonly port: number,
    private readonly networkEnv: Record<string, string>,
    private readonly ownEnv: Record<string, string>,
    /** Whether it runs as its own process. */
    readonly asProcess: boolean,
    private readonly options: OptionsOf<N> | undefined,
    private readonly readyTimeoutMs: number | undefined,
  ) {}

  /** `127.0.0.1:<port>`. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Its gRPC contract. */
  get definition(): DefinitionOf<N> {
    return DRIVERS[this.name].definition as DefinitionOf<N>;
  }

  /** Its start phase (see ServiceDriver.phase). */
  get phase(): number {
    return DRIVERS[this.name].phase;
  }

  /** What the in-process start function answered (its internals, for white-box checks); undefined when stopped or a process. */
  get running(): RunningOf<N> | undefined {
    return this.instance;
  }

  /** Its metrics and health port; undefined when stopped. */
  get metricsPort(): number | undefined {
    return this.instance?.metricsPort ?? this.child?.metricsPort;
  }

  /** Whether it is running. */
  get up(): boolean {
    return this.instance !== undefined || this.child !== undefined;
  }

  /** The environment it starts with: test defaults, the network's, its own, then its ports. */
  env(): Record<string, string> {
    const upper = this.name.toUpperCase();
    return {
      ...DRIVERS[this.name].env,
      ...this.networkEnv,
      ...this.ownEnv,
      [`${upper}_PORT`]: String(this.port),
      [`${upper}_METRICS_PORT`]: '0',
    };
  }

  /**
   * Starts it (again) on its port; resolves once it serves (a process: once /readyz answers 200).
   * `options` replace those the network was given, for this start. A running service is left as it is.
   */
  async start(options: OptionsOf<N> | undefined = this.options): Promise<void> {
    if (this.up) return;
    if (this.asProcess) {
      const { [`${this.name.toUpperCase()}_METRICS_PORT`]: _metrics, ...env } = this.env();
      this.child = await startServiceProcess(this.name, {
        port: this.port,
        metricsPort: await freePort(),
        env,
        output: 'inherit',
        readyTimeoutMs: this.readyTimeoutMs,
      });
    } else {
      const start = DRIVERS[this.name].start as (env: Record<string, string>, options?: OptionsOf<N>) => Promise<RunningOf<N>>;
      this.instance = await start(this.env(), options);
    }
    this.startedAt = ++starts;
  }

  /** Stops it (draining its calls and consumers, as on SIGTERM); its port stays its own. Idempotent. */
  async stop(): Promise<void> {
    const instance = this.instance;
    const child = this.child;
    this.instance = undefined;
    this.child = undefined;
    await instance?.stop();
    await child?.stop();
  }
}
