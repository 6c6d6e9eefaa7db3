/**
 * MQTT broker throughput: plain aedes vs EmbeddedBroker (aedes + mountpoints) vs the system Mosquitto on 127.0.0.1:1883.
 * Each broker, the subscriber and the publisher run in their own child process (this file forked with a role), all
 * on loopback with the mqtt package, MQTT 3.1.1, 64-byte payloads, the publisher keeping WINDOW messages in flight.
 * msg/s = messages received / (last receive - publish start). Median of up to ROUNDS runs (fewer when the machine is
 * so busy that BUDGET_MS runs out), brokers interleaved.
 * Run: npx tsx bench/mqtt-broker.bench.ts
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Aedes } from 'aedes';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { EmbeddedBroker } from '../src/mqtt/embedded-broker.js';

const ROUNDS = 3;
/** No new round starts after this, so a busy machine still finishes in about two minutes. */
const BUDGET_MS = 50_000;
const COUNTS = { 0: 60_000, 1: 30_000 } as const;
const WINDOW = 1000;
const PAYLOAD_BYTES = 64;
const IDLE_MS = 5_000;
const RUN_TIMEOUT_MS = 60_000;
const GOAL = 0.93;
const MOSQUITTO_URL = 'mqtt://127.0.0.1:1883';
const SELF = fileURLToPath(import.meta.url);

type Qos = 0 | 1;
type BrokerKind = 'plain' | 'mount';

interface Endpoint {
  url: string;
  username?: string;
  password?: string;
  topic: string;
}

interface ClientJob extends Endpoint {
  qos: Qos;
  count: number;
}

type Message =
  | { type: 'ready'; port?: number }
  | { type: 'cpu'; micros: number }
  | { type: 'go' }
  | { type: 'stop' }
  | { type: 'published'; start: number }
  | { type: 'received'; count: number; last: number };

const now = () => performance.timeOrigin + performance.now();

function send(message: Message): void {
  process.send?.(message);
}

function nextMessage<T extends Message['type']>(child: ChildProcess, type: T): Promise<Extract<Message, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no ${type} from child within ${RUN_TIMEOUT_MS} ms`)), RUN_TIMEOUT_MS);
    const onMessage = (message: Message) => {
      if (message.type === type) finish(null, message as Extract<Message, { type: T }>);
    };
    const onExit = (code: number | null) => finish(new Error(`child exited (${code}) before ${type}`));
    function finish(err: Error | null, message?: Extract<Message, { type: T }>) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(message as Extract<Message, { type: T }>);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

function spawnRole(role: string, arg: unknown): ChildProcess {
  return fork(SELF, [role, JSON.stringify(arg)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function connect(endpoint: Endpoint, extra: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(endpoint.url, {
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    username: endpoint.username,
    password: endpoint.password,
    ...extra,
  });
}

/* ---------------------------------------------------------------- child roles */

async function brokerRole(kind: BrokerKind): Promise<void> {
  let port: number;
  let stop: () => Promise<void>;
  if (kind === 'mount') {
    const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const broker = new EmbeddedBroker({
      host: '127.0.0.1',
      port: 0,
      logger: silent,
      authenticator: {
        authenticate: async ({ username, password }) =>
          username === 'bench' && password === 'bench' ? { tenant: 'ff/bench/' } : null,
      },
    });
    port = (await broker.start()).port;
    stop = () => broker.close();
  } else {
    const aedes = await Aedes.createBroker();
    const server = createServer((socket) => aedes.handle(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    stop = async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    };
  }
  process.on('message', (message: Message) => {
    if (message.type === 'cpu') {
      const usage = process.cpuUsage();
      send({ type: 'cpu', micros: usage.user + usage.system });
    } else if (message.type === 'stop') {
      void stop().then(() => process.exit(0));
    }
  });
  send({ type: 'ready', port });
}

async function subscriberRole(job: ClientJob): Promise<void> {
  const client = await connect(job);
  let count = 0;
  let last = 0;
  const done = () => {
    clearInterval(idle);
    send({ type: 'received', count, last });
    client.end(true, {}, () => process.exit(0));
  };
  client.on('message', () => {
    count++;
    last = now();
    if (count === job.count) done();
  });
  let seen = 0;
  let quietSince = now();
  const idle = setInterval(() => {
    if (count !== seen) {
      seen = count;
      quietSince = now();
    } else if (count > 0 && now() - quietSince > IDLE_MS) {
      done();
    }
  }, 250);
  await client.subscribeAsync(job.topic, { qos: job.qos });
  send({ type: 'ready' });
}

async function publisherRole(job: ClientJob): Promise<void> {
  const client = await connect(job);
  const payload = Buffer.alloc(PAYLOAD_BYTES, 0x61);
  process.once('message', () => {
    const start = now();
    let sent = 0;
    let completed = 0;
    let scheduled = false;
    const pump = () => {
      scheduled = false;
      while (sent < job.count && sent - completed < WINDOW) {
        sent++;
        client.publish(job.topic, payload, { qos: job.qos }, onPublished);
      }
    };
    function onPublished() {
      completed++;
      if (completed === job.count) {
        send({ type: 'published', start });
        client.end(false, {}, () => process.exit(0));
      } else if (!scheduled) {
        scheduled = true;
        setImmediate(pump);
      }
    }
    pump();
  });
  send({ type: 'ready' });
}

/* ---------------------------------------------------------------- orchestration */

interface Target {
  name: string;
  endpoint: (topic: string) => Endpoint;
  cpuMicros?: () => Promise<number>;
  stop: () => Promise<void>;
}

async function startBrokerChild(kind: BrokerKind): Promise<Target> {
  const child = spawnRole('broker', kind);
  const { port } = await nextMessage(child, 'ready');
  const url = `mqtt://127.0.0.1:${port}`;
  return {
    name: kind === 'plain' ? 'aedes plain' : 'aedes + mountpoints',
    endpoint: (topic) => (kind === 'mount' ? { url, username: 'bench', password: 'bench', topic } : { url, topic }),
    cpuMicros: async () => {
      child.send({ type: 'cpu' });
      return (await nextMessage(child, 'cpu')).micros;
    },
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ type: 'stop' });
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      child.kill('SIGKILL');
    },
  };
}

async function mosquittoTarget(): Promise<Target | string> {
  try {
    const probe = await connect({ url: MOSQUITTO_URL, topic: '' }, { connectTimeout: 3_000 });
    await probe.endAsync();
  } catch (err) {
    return `system Mosquitto on ${MOSQUITTO_URL} unreachable (${(err as Error).message}): reference skipped`;
  }
  return { name: 'mosquitto (system)', endpoint: (topic) => ({ url: MOSQUITTO_URL, topic }), stop: async () => undefined };
}

interface RunResult {
  msgsPerSec: number;
  delivered: number;
  cpuPerMsg?: number;
}

async function runOnce(target: Target, qos: Qos): Promise<RunResult> {
  const count = COUNTS[qos];
  const topic = `openflow-bench/${randomUUID()}`;
  const job: ClientJob = { ...target.endpoint(topic), qos, count };
  const subscriber = spawnRole('subscriber', job);
  const publisher = spawnRole('publisher', job);
  try {
    await Promise.all([nextMessage(subscriber, 'ready'), nextMessage(publisher, 'ready')]);
    const cpuBefore = await target.cpuMicros?.();
    const received = nextMessage(subscriber, 'received');
    const published = nextMessage(publisher, 'published');
    publisher.send({ type: 'go' });
    const [{ start }, { count: got, last }] = await Promise.all([published, received]);
    const cpuAfter = await target.cpuMicros?.();
    return {
      msgsPerSec: got / ((last - start) / 1000),
      delivered: got / count,
      cpuPerMsg: cpuBefore !== undefined && cpuAfter !== undefined && got > 0 ? (cpuAfter - cpuBefore) / got : undefined,
    };
  } finally {
    subscriber.kill('SIGKILL');
    publisher.kill('SIGKILL');
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const started = performance.now();
  console.log(
    `MQTT broker throughput: ${ROUNDS} rounds, QoS0 ${fmt(COUNTS[0])} / QoS1 ${fmt(COUNTS[1])} messages of ` +
      `${PAYLOAD_BYTES} B, window ${WINDOW}; broker, subscriber and publisher each in its own process (mqtt package).`,
  );
  const targets: Target[] = [await startBrokerChild('plain'), await startBrokerChild('mount')];
  const mosquitto = await mosquittoTarget();
  if (typeof mosquitto === 'string') console.log(mosquitto);
  else targets.push(mosquitto);

  const results = new Map<string, RunResult[]>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      if (round > 0 && performance.now() - started > BUDGET_MS) {
        console.log(`time budget reached: ${round} of ${ROUNDS} rounds run`);
        break;
      }
      for (const qos of [0, 1] as const) {
        for (const target of targets) {
          const result = await runOnce(target, qos);
          const key = `${target.name}|${qos}`;
          results.set(key, [...(results.get(key) ?? []), result]);
        }
      }
    }
  } finally {
    await Promise.all(targets.map((t) => t.stop()));
  }

  const summary = (name: string, qos: Qos) => {
    const runs = results.get(`${name}|${qos}`) ?? [];
    const cpu = runs.map((r) => r.cpuPerMsg).filter((c): c is number => c !== undefined);
    return {
      rate: median(runs.map((r) => r.msgsPerSec)),
      delivered: Math.min(...runs.map((r) => r.delivered)),
      cpu: cpu.length ? median(cpu) : undefined,
    };
  };
  console.log('\nbroker                 QoS   msg/s (median)   min delivered   broker CPU µs/msg');
  for (const qos of [0, 1] as const) {
    for (const target of targets) {
      const s = summary(target.name, qos);
      console.log(
        `${target.name.padEnd(22)} ${String(qos).padStart(3)} ${fmt(s.rate).padStart(16)} ` +
          `${(s.delivered * 100).toFixed(1).padStart(14)} % ${(s.cpu === undefined ? 'n/a' : s.cpu.toFixed(2)).padStart(19)}`,
      );
    }
  }
  console.log('');
  for (const qos of [0, 1] as const) {
    const plain = summary('aedes plain', qos);
    const mount = summary('aedes + mountpoints', qos);
    const ratio = mount.rate / plain.rate;
    let line = `QoS${qos}: mount/plain = ${ratio.toFixed(3)} msg/s (goal >= ${GOAL}: ${ratio >= GOAL ? 'met' : 'NOT met'})`;
    if (plain.cpu !== undefined && mount.cpu !== undefined) {
      line += `, ${(mount.cpu / plain.cpu).toFixed(3)} broker CPU per message`;
    }
    if (typeof mosquitto !== 'string') {
      line += `; mosquitto/plain = ${(summary(mosquitto.name, qos).rate / plain.rate).toFixed(2)} msg/s`;
    }
    console.log(line);
  }
  console.log(
    'Delivered below 100 % means the broker dropped messages (Mosquitto drops beyond max_queued_messages, default ' +
      '1000); msg/s counts what arrived. Figures are noisy on a shared 2-core machine: compare ratios within a run.',
  );
  console.log(`\ntotal ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

const [role, arg] = process.argv.slice(2);
if (role === 'broker') await brokerRole(JSON.parse(arg ?? '""') as BrokerKind);
else if (role === 'subscriber') await subscriberRole(JSON.parse(arg ?? '{}') as ClientJob);
else if (role === 'publisher') await publisherRole(JSON.parse(arg ?? '{}') as ClientJob);
else await main();
