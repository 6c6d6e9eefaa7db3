import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  Aedes,
  type AedesPublishPacket,
  type AuthenticateError,
  type Client,
  type ConnectPacket,
  type PublishPacket,
  type Subscription,
} from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { isValidTenant } from './tenant.js';

export interface BrokerAuthResult {
  tenant: string;
}

export interface BrokerAuthenticator {
  authenticate(input: {
    username: string;
    password: string;
    clientId: string;
    peerhost: string;
  }): Promise<BrokerAuthResult | null>;
}

export interface BrokerLogger {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
}

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  authenticator: BrokerAuthenticator;
  logger: BrokerLogger;
}

/**
 * The parts of aedes 1.2.0's Client that are not in aedes.d.ts but that mountpoints depend on. aedes is pinned to an
 * exact version in package.json because of them.
 */
interface AedesClientInternals {
  /** Writable so the id can be scoped to the tenant before the session is looked up or registered. */
  id: string;
  /** Keyed by (mounted) topic filter. */
  subscriptions: Record<string, { qos: AedesPublishPacket['qos'] } | undefined>;
  /** The mqtt-packet parser feeding the client, where SUBSCRIBE and UNSUBSCRIBE filters get mounted. */
  _parser: EventEmitter;
  pause(): void;
}

type Will = NonNullable<ConnectPacket['will']>;

interface ConnectionState {
  readonly peerhost: string;
  mount: string | null;
  username: string | null;
  will: Will | null;
}

interface ParsedPacket {
  cmd: string;
  subscriptions?: Array<{ topic: string }>;
  unsubscriptions?: string[];
}

const NOT_AUTHORIZED = 5;

const internals = (client: Client): AedesClientInternals => client as unknown as AedesClientInternals;

function notAuthorized(): AuthenticateError {
  return Object.assign(new Error('not authorized'), { returnCode: NOT_AUTHORIZED });
}

function isSharedSubscription(filter: string): boolean {
  return filter.startsWith('$share/') || filter.startsWith('$queue/');
}

/**
 * Shared-subscription filters stay unmounted: they are refused, and aedes may still persist a refused filter along
 * with the accepted ones of the same packet, where an unmounted `$share/...` can match no client's topic.
 */
function mountFilter(mount: string, filter: string): string {
  return isSharedSubscription(filter) ? filter : mount + filter;
}

function isPublishTopic(topic: string): boolean {
  return topic.length > 0 && !/[+#\0]/.test(topic);
}

/** A server-side topic must name a valid tenant and leave a non-empty topic for that tenant's clients. */
function isMountedTopic(topic: string): boolean {
  const end = topic.indexOf('/', 'ff/'.length);
  return end > 0 && end + 1 < topic.length && isValidTenant(topic.slice(0, end + 1)) && isPublishTopic(topic);
}

/**
 * MQTT broker inside the manager, giving every client the mountpoint `ff/<projectId>/` of its credential, the way
 * EMQX's `mountpoint = "${client_attrs.tenant}"` does: clients use flat topics and never see another project.
 *
 * Speaks MQTT 3.1.1 (and legacy 3.1) only: aedes 1.x has no MQTT 5 support and answers a v5 CONNECT with
 * "unacceptable protocol version". Persistence is aedes' in-memory store on purpose: mountpoints rely on each
 * subscriber getting its own packet copy, which other stores do not guarantee.
 */
export class EmbeddedBroker {
  private readonly options: EmbeddedBrokerOptions;
  private readonly logger: BrokerLogger;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly states = new WeakMap<Client, ConnectionState>();
  /** Wills whose topic was mounted at authentication; aedes passes them to authorizePublish again on publication. */
  private readonly mountedWills = new WeakSet<object>();
  private readonly clientsByUser = new Map<string, Set<Client>>();
  private readonly connections = new Set<Duplex>();
  private broker: Aedes | null = null;
  private server: Server | null = null;
  private closing = false;

  constructor(options: EmbeddedBrokerOptions) {
    this.options = options;
    this.logger = options.logger;
  }

  async start(): Promise<{ port: number }> {
    if (this.broker || this.closing) {
      throw new Error('the embedded MQTT broker can only be started once');
    }
    const broker = await Aedes.createBroker({
      preConnect: (client, packet, done) => this.preConnect(client, packet, done),
      authenticate: (client, username, password, done) => {
        void this.authenticate(client, username, password).then((error) =>
          error ? done(error, false) : done(null, true),
        );
      },
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => this.authorizeSubscribe(client, sub, done),
      authorizeForward: (client, packet) => this.authorizeForward(client, packet),
    });
    // aedes.d.ts narrows on() to its documented events; 'error' is inherited from EventEmitter and must be handled.
    const emitter: EventEmitter = broker;
    emitter.on('error', (err: Error) => this.logger.error({ err: err.message }, 'MQTT broker error'));
    broker.on('clientError', (client, err) =>
      this.logger.warn({ clientId: client.id, err: err.message }, 'MQTT client error'),
    );
    broker.on('connectionError', (_client, err) =>
      this.logger.warn({ err: err.message }, 'MQTT connection error'),
    );

    const server = createServer((socket) => this.accept(socket, socket.remoteAddress ?? ''));
    this.broker = broker;
    try {
      await listen(server, this.options.host, this.options.port);
    } catch (err) {
      this.broker = null;
      await closeAedes(broker);
      throw err;
    }
    server.on('error', (err) => this.logger.error({ err: err.message }, 'MQTT listener error'));
    this.server = server;
    const { port } = server.address() as AddressInfo;
    this.logger.info({ host: this.options.host, port }, 'MQTT broker listening');
    return { port };
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!this.broker || this.closing) {
      socket.destroy();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.accept(createWebSocketStream(ws), req.socket.remoteAddress ?? '', req);
    });
  }

  disconnectUser(username: string): number {
    const clients = this.clientsByUser.get(username);
    if (!clients) return 0;
    this.clientsByUser.delete(username);
    for (const client of clients) client.close();
    this.logger.info({ username, sessions: clients.size }, 'MQTT sessions of a revoked credential closed');
    return clients.size;
  }

  async publish(
    topic: string,
    payload: Buffer | string,
    opts: { qos?: 0 | 1; retain?: boolean } = {},
  ): Promise<void> {
    const broker = this.broker;
    if (!broker || this.closing) throw new Error('the embedded MQTT broker is not running');
    if (!isMountedTopic(topic)) {
      throw new Error(`server-side MQTT topic ${JSON.stringify(topic)} must start with a project mountpoint ff/<id>/`);
    }
    const packet: PublishPacket = {
      cmd: 'publish',
      topic,
      payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
      qos: opts.qos ?? 0,
      retain: opts.retain ?? false,
      dup: false,
    };
    await new Promise<void>((resolve, reject) => broker.publish(packet, (err) => (err ? reject(err) : resolve())));
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const server = this.server;
    const serverClosed = server
      ? new Promise<void>((resolve) => server.close(() => resolve()))
      : Promise.resolve();
    if (this.broker) await closeAedes(this.broker);
    // Connections that never finished CONNECT are not aedes clients, so aedes.close() leaves them open.
    for (const connection of this.connections) connection.destroy();
    this.wss.close();
    await serverClosed;
    this.clientsByUser.clear();
    this.broker = null;
    this.server = null;
  }

  private accept(connection: Duplex, peerhost: string, req?: IncomingMessage): void {
    const broker = this.broker;
    if (!broker || this.closing) {
      connection.destroy();
      return;
    }
    this.connections.add(connection);
    const client = broker.handle(connection, req);
    const state: ConnectionState = { peerhost, mount: null, username: null, will: null };
    this.states.set(client, state);
    connection.once('close', () => {
      this.connections.delete(connection);
      if (state.username !== null) this.forgetSession(state.username, client);
    });
    internals(client)._parser.prependListener('packet', (packet: ParsedPacket) => {
      if (packet.cmd === 'subscribe') mountSubscribe(state, packet);
      else if (packet.cmd === 'unsubscribe') mountUnsubscribe(state, packet);
    });
  }

  private forgetSession(username: string, client: Client): void {
    const sessions = this.clientsByUser.get(username);
    if (!sessions) return;
    sessions.delete(client);
    if (sessions.size === 0) this.clientsByUser.delete(username);
  }

  private preConnect(client: Client, packet: ConnectPacket, done: (err: Error | null, ok: boolean) => void): void {
    const state = this.states.get(client);
    if (!state) {
      done(new Error('connection not accepted by this broker'), false);
      return;
    }
    // aedes pauses reading only once authentication starts, a tick later; a packet read in between would be handled
    // before the mountpoint is known.
    internals(client).pause();
    if (packet.will) {
      if (!isPublishTopic(packet.will.topic)) {
        done(new Error('invalid will topic'), false);
        return;
      }
      // aedes keeps this very object as the client's will, so mounting it later in authenticate() mounts the will.
      state.will = packet.will;
    }
    done(null, true);
  }

  /** Resolves to the refusal to send, or null when the client is admitted; never rejects. */
  private async authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<AuthenticateError | null> {
    const state = this.states.get(client);
    const clientId = client.id;
    if (!state) return notAuthorized();
    const context = { username, clientId, peerhost: state.peerhost };
    if (username === undefined || password === undefined) {
      this.logger.info(context, 'MQTT connection refused: no credentials');
      return notAuthorized();
    }
    let result: BrokerAuthResult | null;
    try {
      result = await this.options.authenticator.authenticate({
        username,
        password: password.toString('utf8'),
        clientId,
        peerhost: state.peerhost,
      });
    } catch (err) {
      this.logger.error({ ...context, err: (err as Error).message }, 'MQTT connection refused: authenticator failed');
      return notAuthorized();
    }
    if (!result) {
      this.logger.info(context, 'MQTT connection refused: bad credentials');
      return notAuthorized();
    }
    if (!isValidTenant(result.tenant)) {
      this.logger.error(
        { ...context, tenant: result.tenant },
        'MQTT connection refused: authenticator returned an invalid tenant',
      );
      return notAuthorized();
    }
    if (client.closed) return notAuthorized();

    const mount = result.tenant;
    state.mount = mount;
    state.username = username;
    // Scoped ids keep a project from taking over (or inheriting the persistent session of) another project's client.
    internals(client).id = mount + clientId;
    if (state.will) {
      state.will.topic = mount + state.will.topic;
      this.mountedWills.add(state.will);
    }
    let sessions = this.clientsByUser.get(username);
    if (!sessions) {
      sessions = new Set();
      this.clientsByUser.set(username, sessions);
    }
    sessions.add(client);
    return null;
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    if (this.mountedWills.has(packet)) {
      done(null);
      return;
    }
    const mount = client ? this.states.get(client)?.mount : null;
    if (!mount) {
      done(new Error('publish from an unauthenticated client'));
      return;
    }
    packet.topic = mount + packet.topic;
    done(null);
  }

  /** Filters arrive mounted: from the parser patch for SUBSCRIBE, from persistence on session restore. */
  private authorizeSubscribe(
    client: Client,
    sub: Subscription,
    done: (err: Error | null, sub?: Subscription | null) => void,
  ): void {
    const state = this.states.get(client);
    const mount = state?.mount;
    if (!state || !mount) {
      done(null, null);
      return;
    }
    if (isSharedSubscription(sub.topic)) {
      this.logger.warn(
        { clientId: client.id, username: state.username, topic: sub.topic },
        'MQTT subscription refused: shared subscriptions ($share/, $queue/) are not supported by the embedded broker',
      );
      done(null, null);
      return;
    }
    if (!sub.topic.startsWith(mount)) {
      this.logger.warn({ clientId: client.id, topic: sub.topic }, 'MQTT subscription outside the mountpoint refused');
      done(null, null);
      return;
    }
    done(null, sub);
  }

  private authorizeForward(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    const mount = this.states.get(client)?.mount;
    if (!mount || !packet.topic.startsWith(mount) || packet.topic.length === mount.length) return null;
    // aedes caps QoS by an exact-match subscription after this hook, looking it up by the (by then unmounted)
    // topic; do it here with the mounted one. Packets already carrying a message id are session-queue redeliveries,
    // which aedes never caps and which must stay acknowledgeable.
    if (packet.qos > 0 && packet.messageId === undefined) {
      const sub = internals(client).subscriptions[packet.topic];
      if (sub && sub.qos < packet.qos) packet.qos = sub.qos;
    }
    // In place: the offline queue writes the packet it passed in and only uses the return value as a verdict.
    packet.topic = packet.topic.slice(mount.length);
    return packet;
  }
}

/**
 * SUBSCRIBE filters are mounted on the parsed packet rather than in authorizeSubscribe: aedes persists the packet's
 * whole filter list as soon as its first filter is authorized, and reads retained messages from the same objects.
 * Lazily, because packets pipelined behind CONNECT are parsed before authentication has chosen the mountpoint, and
 * handled only after it. aedes reads the list before assigning its de-duplicated copy, whose entries are then mounted.
 */
function mountSubscribe(state: ConnectionState, packet: ParsedPacket): void {
  let subscriptions = packet.subscriptions ?? [];
  let mounted = false;
  Object.defineProperty(packet, 'subscriptions', {
    configurable: true,
    enumerable: true,
    get: () => {
      if (!mounted) {
        mounted = true;
        // Without a mountpoint the filters stay as they are, and authorizeSubscribe refuses them.
        const mount = state.mount;
        if (mount !== null) for (const sub of subscriptions) sub.topic = mountFilter(mount, sub.topic);
      }
      return subscriptions;
    },
    set: (value: Array<{ topic: string }>) => {
      subscriptions = value;
    },
  });
}

/** aedes has no hook for UNSUBSCRIBE at all; mounted the same lazy way. */
function mountUnsubscribe(state: ConnectionState, packet: ParsedPacket): void {
  const filters = packet.unsubscriptions ?? [];
  let mounted: string[] | null = null;
  Object.defineProperty(packet, 'unsubscriptions', {
    configurable: true,
    enumerable: true,
    get: () => {
      if (mounted === null) {
        const mount = state.mount;
        mounted = mount === null ? [] : filters.map((filter) => mountFilter(mount, filter));
      }
      return mounted;
    },
  });
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`MQTT_PORT ${port} is already in use on ${host}: stop the other broker or set MQTT_PORT to a free port`)
          : err,
      );
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

function closeAedes(broker: Aedes): Promise<void> {
  return new Promise((resolve) => broker.close(() => resolve()));
}
