import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import {
  EmbeddedBroker,
  type BrokerAuthenticator,
  type BrokerAuthResult,
  type BrokerLogger,
} from '../../src/mqtt/embedded-broker.js';

export const WAIT_MS = 20_000;

export interface TestUser {
  password: string;
  tenant: string;
}

export class MapAuthenticator implements BrokerAuthenticator {
  readonly calls: Array<{ username: string; clientId: string; peerhost: string }> = [];

  constructor(private readonly users: Record<string, TestUser>) {}

  async authenticate(input: {
    username: string;
    password: string;
    clientId: string;
    peerhost: string;
  }): Promise<BrokerAuthResult | null> {
    this.calls.push({ username: input.username, clientId: input.clientId, peerhost: input.peerhost });
    const user = this.users[input.username];
    if (!user || user.password !== input.password) return null;
    return { tenant: user.tenant };
  }
}

export interface LogEntry {
  level: 'info' | 'warn' | 'error';
  fields: object;
  msg: string;
}

export class RecordingLogger implements BrokerLogger {
  readonly entries: LogEntry[] = [];
  info(fields: object, msg = ''): void {
    this.entries.push({ level: 'info', fields, msg });
  }
  warn(fields: object, msg = ''): void {
    this.entries.push({ level: 'warn', fields, msg });
  }
  error(fields: object, msg = ''): void {
    this.entries.push({ level: 'error', fields, msg });
  }
}

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
  qos: number;
}

/** Every message a client receives, with bounded waits on what is expected to arrive. */
export class Inbox {
  readonly messages: Received[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos });
      for (const wake of this.waiters) wake();
    });
  }

  topics(): string[] {
    return this.messages.map((m) => m.topic);
  }

  payloads(): string[] {
    return this.messages.map((m) => m.payload);
  }

  waitFor(predicate: (messages: Received[]) => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
    if (predicate(this.messages)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; received ${JSON.stringify(this.messages)}`));
      }, timeoutMs);
      const check = () => {
        if (!predicate(this.messages)) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  waitForPayload(payload: string): Promise<void> {
    return this.waitFor((ms) => ms.some((m) => m.payload === payload), `payload ${payload}`);
  }
}

export interface Connected {
  client: MqttClient;
  inbox: Inbox;
  sessionPresent: boolean;
}

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One broker on an ephemeral loopback port plus every client and child process a test opens against it. */
export class BrokerHarness {
  readonly logger = new RecordingLogger();
  readonly authenticator: MapAuthenticator;
  readonly broker: EmbeddedBroker;
  port = 0;
  private readonly clients = new Set<MqttClient>();
  private readonly children = new Set<ChildProcess>();

  constructor(users: Record<string, TestUser>, authenticator?: BrokerAuthenticator) {
    this.authenticator = new MapAuthenticator(users);
    this.broker = new EmbeddedBroker({
      host: '127.0.0.1',
      port: 0,
      authenticator: authenticator ?? this.authenticator,
      logger: this.logger,
    });
  }

  async start(): Promise<this> {
    this.port = (await this.broker.start()).port;
    return this;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Connects with MQTT 3.1.1; the inbox is attached before CONNECT so queued messages sent right after CONNACK count. */
  async connect(username: string, password: string, options: IClientOptions = {}, url = this.url): Promise<Connected> {
    const client = mqtt.connect(url, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      username,
      password,
      ...options,
    });
    this.clients.add(client);
    const inbox = new Inbox(client);
    client.on('error', () => undefined);
    const connack = await connackOf(client);
    return { client, inbox, sessionPresent: connack.sessionPresent };
  }

  /** Resolves to the CONNACK refusal code, or throws if the connection was accepted. */
  async refusal(username: string, password: string, options: IClientOptions = {}): Promise<number> {
    const client = mqtt.connect(this.url, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      username,
      password,
      ...options,
    });
    this.clients.add(client);
    try {
      await connackOf(client);
    } catch (err) {
      return (err as Error & { code?: number }).code ?? -1;
    } finally {
      await end(client);
    }
    throw new Error(`connection of ${username} was accepted`);
  }

  /** Runs a mosquitto client to completion; it is killed if it outlives the timeout. */
  run(command: 'mosquitto_pub' | 'mosquitto_sub', args: string[], onStdout?: (text: string) => void): Promise<ProcessResult> {
    const child = this.spawnRaw(command, args);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      onStdout?.(stdout);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), WAIT_MS * 2);
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => {
        clearTimeout(killer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** Line-buffered through stdbuf: piped mosquitto clients otherwise hold their output until they exit. */
  spawnRaw(command: 'mosquitto_pub' | 'mosquitto_sub', args: string[]): ChildProcessByStdio<null, Readable, Readable> {
    const argv = ['-oL', `/usr/bin/${command}`, '-h', '127.0.0.1', '-p', String(this.port), '-V', 'mqttv311', ...args];
    const child = spawn('/usr/bin/stdbuf', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    child.once('close', () => this.children.delete(child));
    return child;
  }

  async stop(): Promise<void> {
    for (const child of this.children) child.kill('SIGKILL');
    await Promise.all([...this.clients].map((client) => end(client)));
    this.clients.clear();
    await this.broker.close();
  }
}

export function end(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.end(true, {}, () => resolve()));
}

export function subscribe(client: MqttClient, topic: string | string[], qos: 0 | 1 = 0): Promise<number[]> {
  return new Promise((resolve, reject) => {
    client.subscribe(topic, { qos }, (err, granted) => {
      if (err) reject(err);
      else resolve((granted ?? []).map((g) => g.qos));
    });
  });
}

/** The SUBACK return codes, including refusals (0x80), which mqtt.js reports as an error. */
export function subackCodes(client: MqttClient, topics: string[], qos: 0 | 1 = 0): Promise<number[]> {
  return new Promise((resolve, reject) => {
    client.subscribe(topics, { qos }, (err, granted) => {
      const refused = (err as (Error & { packet?: { granted?: number[] } }) | null)?.packet?.granted;
      if (refused) resolve(refused);
      else if (err) reject(err);
      else resolve((granted ?? []).map((g) => g.qos));
    });
  });
}

export function unsubscribe(client: MqttClient, topic: string | string[]): Promise<void> {
  return new Promise((resolve, reject) => client.unsubscribe(topic, (err) => (err ? reject(err) : resolve())));
}

export function publish(
  client: MqttClient,
  topic: string,
  payload: string,
  opts: { qos?: 0 | 1; retain?: boolean } = {},
): Promise<void> {
  return new Promise((resolve, reject) =>
    client.publish(topic, payload, { qos: opts.qos ?? 1, retain: opts.retain ?? false }, (err) =>
      err ? reject(err) : resolve(),
    ),
  );
}

/** The CONNACK of a connecting client; rejects with the refusal (its `code` is the return code) or on timeout. */
function connackOf(client: MqttClient): Promise<IConnackPacket> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no CONNACK in time')), WAIT_MS);
    client.once('connect', (connack) => {
      clearTimeout(timer);
      resolve(connack);
    });
    client.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Resolves when the client's connection closes, or rejects after the timeout. */
export function closed(client: MqttClient): Promise<void> {
  if (!client.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connection still open')), WAIT_MS);
    client.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
