import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline';
import Docker from 'dockerode';

/** What the Docker driver asks of an engine; one implementation talks to dockerd through dockerode. */
export interface DockerEngine {
  /** Creates the bridge network unless it exists. */
  ensureNetwork(name: string): Promise<void>;
  /** The image's labels, or null when the engine does not hold the image. */
  imageLabels(image: string): Promise<Record<string, string> | null>;
  pullImage(image: string): Promise<void>;
  /** Returns the new container's id; a name already in use rejects with NameInUseError. */
  createContainer(spec: ContainerSpec): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** Null when no such container exists. */
  inspectContainer(id: string): Promise<ContainerState | null>;
  /** Resolves once the container is not running (at once if it already is not); rejects if the engine connection fails. */
  waitForExit(id: string, signal: AbortSignal): Promise<ContainerExit>;
  /** SIGTERM, then SIGKILL after the grace period; resolves once the container has stopped. Missing is fine. */
  stopContainer(id: string, graceSeconds: number): Promise<void>;
  /** Removes the container, killing it if it still runs. Missing is fine. */
  removeContainer(id: string): Promise<void>;
  /** Every container, running or not, carrying all the given labels. */
  listContainers(labels: Record<string, string>): Promise<ContainerSummary[]>;
  /**
   * Streams the container's output line by line until it stops or the signal fires; resolves when the stream ends.
   * `tail` limits how much earlier output is replayed first (all of it when absent).
   */
  followLogs(id: string, options: { tail?: number; signal: AbortSignal }, onLine: (stream: 'stdout' | 'stderr', line: string) => void): Promise<void>;
  /** Resident memory of the container's processes (anonymous and mapped file pages, no page cache), or null if unknown. */
  memoryUsage(id: string): Promise<number | null>;
}

export interface ContainerSpec {
  name: string;
  image: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  network: string;
  /** DNS names the container answers to on the network, besides its own name. */
  aliases: string[];
  /** `hostPath:containerPath` bind mounts. */
  binds: string[];
  memoryBytes: number;
  nanoCpus: number | null;
  /** `uid:gid`; null keeps the image's user. */
  user: string | null;
  extraHosts: string[];
  stopGraceSeconds: number;
}

export interface ContainerState {
  id: string;
  name: string;
  running: boolean;
  /** Host pid of the container's first process; null when it does not run. */
  pid: number | null;
  /** Address on the given network, when attached to it. */
  addresses: Record<string, string>;
  startedAt: Date;
  labels: Record<string, string>;
  image: string;
  exitCode: number | null;
  oomKilled: boolean;
}

export interface ContainerSummary {
  id: string;
  name: string;
  running: boolean;
  labels: Record<string, string>;
}

export interface ContainerExit {
  code: number | null;
  oomKilled: boolean;
}

/** Docker refused a container name another container holds. */
export class NameInUseError extends Error {
  constructor(readonly containerName: string) {
    super(`a container named ${containerName} already exists`);
    this.name = 'NameInUseError';
  }
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

async function ignoreStatus<T>(action: Promise<T>, ...statuses: number[]): Promise<T | undefined> {
  try {
    return await action;
  } catch (err) {
    if (statuses.includes(statusOf(err) ?? 0)) return undefined;
    throw err;
  }
}

/**
 * Close to what ps shows as RSS for the container's processes: anonymous memory plus the mapped file pages charged to
 * the container (pages another container faulted in first are charged there), without the page cache the cgroup
 * also counts. cgroup v1 names them rss and mapped_file, v2 anon and file_mapped.
 */
function residentBytes(stats: { stats?: Record<string, number> } | undefined): number | null {
  const s = stats?.stats;
  if (!s) return null;
  if (typeof s.rss === 'number') return s.rss + (s.mapped_file ?? 0);
  if (typeof s.anon === 'number') return s.anon + (s.file_mapped ?? 0);
  return null;
}

export class DockerodeEngine implements DockerEngine {
  constructor(private readonly docker: Docker) {}

  static fromSocket(socketPath: string): DockerodeEngine {
    return new DockerodeEngine(new Docker({ socketPath }));
  }

  async ensureNetwork(name: string): Promise<void> {
    const existing = await this.docker.listNetworks({ filters: { name: [name] } });
    // The name filter matches substrings.
    if (existing.some((n) => n.Name === name)) return;
    // Two managers racing here both try; the loser's 409 means the network now exists.
    await ignoreStatus(this.docker.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: { 'org.openflow.network': 'true' } }), 409);
  }

  async imageLabels(image: string): Promise<Record<string, string> | null> {
    const info = await ignoreStatus(this.docker.getImage(image).inspect(), 404);
    return info ? ((info.Config?.Labels as Record<string, string> | null) ?? {}) : null;
  }

  async pullImage(image: string): Promise<void> {
    const stream = await this.docker.pull(image);
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(stream, (err: Error | null, output: { error?: string }[]) => {
        const failed = output?.find((event) => typeof event.error === 'string');
        if (err) reject(err);
        else if (failed) reject(new Error(failed.error));
        else resolve();
      });
    });
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    try {
      const container = await this.docker.createContainer({
        name: spec.name,
        Image: spec.image,
        Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
        Labels: spec.labels,
        ...(spec.user ? { User: spec.user } : {}),
        StopTimeout: spec.stopGraceSeconds,
        HostConfig: {
          Binds: spec.binds,
          NetworkMode: spec.network,
          Memory: spec.memoryBytes,
          // Equal to Memory: no swap on top of the limit, so the limit is what the instance gets.
          MemorySwap: spec.memoryBytes,
          ...(spec.nanoCpus ? { NanoCpus: spec.nanoCpus } : {}),
          ExtraHosts: spec.extraHosts,
          // Supervision is the driver's (same crash policy as local processes), so Docker never restarts on its own.
          RestartPolicy: { Name: 'no' },
          // A tiny init as pid 1 reaps the zombies exec nodes leave and passes SIGTERM on to Node-RED.
          Init: true,
          LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
        },
        NetworkingConfig: { EndpointsConfig: { [spec.network]: { Aliases: spec.aliases } } },
      });
      return container.id;
    } catch (err) {
      if (statusOf(err) === 409) throw new NameInUseError(spec.name);
      throw err;
    }
  }

  async startContainer(id: string): Promise<void> {
    // 304: already started.
    await ignoreStatus(this.docker.getContainer(id).start(), 304);
  }

  async inspectContainer(id: string): Promise<ContainerState | null> {
    const info = await ignoreStatus(this.docker.getContainer(id).inspect(), 404);
    if (!info) return null;
    const addresses: Record<string, string> = {};
    for (const [network, endpoint] of Object.entries(info.NetworkSettings.Networks ?? {})) {
      if (endpoint.IPAddress) addresses[network] = endpoint.IPAddress;
    }
    return {
      id: info.Id,
      name: info.Name.replace(/^\//, ''),
      running: info.State.Running,
      pid: info.State.Running && info.State.Pid > 0 ? info.State.Pid : null,
      addresses,
      startedAt: new Date(info.State.StartedAt),
      labels: info.Config.Labels ?? {},
      image: info.Config.Image,
      exitCode: info.State.Running ? null : info.State.ExitCode,
      oomKilled: info.State.OOMKilled,
    };
  }

  async waitForExit(id: string, signal: AbortSignal): Promise<ContainerExit> {
    const result = (await ignoreStatus(this.docker.getContainer(id).wait({ condition: 'not-running', abortSignal: signal }), 404)) as { StatusCode?: number } | undefined;
    const state = await this.inspectContainer(id).catch(() => null);
    return { code: result?.StatusCode ?? state?.exitCode ?? null, oomKilled: state?.oomKilled ?? false };
  }

  async stopContainer(id: string, graceSeconds: number): Promise<void> {
    // 304: not running; 404: gone.
    await ignoreStatus(this.docker.getContainer(id).stop({ t: graceSeconds }), 304, 404);
  }

  async removeContainer(id: string): Promise<void> {
    // 409: removal already in progress.
    await ignoreStatus(this.docker.getContainer(id).remove({ force: true }), 404, 409);
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerSummary[]> {
    const list = await this.docker.listContainers({ all: true, filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) } });
    return list.map((c) => ({ id: c.Id, name: (c.Names[0] ?? '').replace(/^\//, ''), running: c.State === 'running', labels: c.Labels ?? {} }));
  }

  async followLogs(id: string, options: { tail?: number; signal: AbortSignal }, onLine: (stream: 'stdout' | 'stderr', line: string) => void): Promise<void> {
    let source: NodeJS.ReadableStream;
    try {
      source = await this.docker.getContainer(id).logs({
        follow: true,
        stdout: true,
        stderr: true,
        ...(options.tail !== undefined ? { tail: options.tail } : {}),
        abortSignal: options.signal,
      });
    } catch (err) {
      if (options.signal.aborted || statusOf(err) === 404) return;
      throw err;
    }
    const streams = { stdout: new PassThrough(), stderr: new PassThrough() };
    const done = (['stdout', 'stderr'] as const).map(
      (name) =>
        new Promise<void>((resolve) => {
          const lines = createInterface({ input: streams[name], crlfDelay: Infinity });
          lines.on('line', (line) => onLine(name, line));
          lines.once('close', () => resolve());
        }),
    );
    const end = () => {
      streams.stdout.end();
      streams.stderr.end();
    };
    source.once('end', end);
    source.once('close', end);
    source.once('error', end);
    // Without a TTY, Docker frames stdout and stderr in one stream.
    this.docker.modem.demuxStream(source, streams.stdout, streams.stderr);
    await Promise.all(done);
  }

  async memoryUsage(id: string): Promise<number | null> {
    const stats = await ignoreStatus(this.docker.getContainer(id).stats({ stream: false, 'one-shot': true }), 404, 409);
    return residentBytes(stats?.memory_stats as { stats?: Record<string, number> } | undefined);
  }
}
