export interface TemplateDefinition {
  id: string;
  name: string;
  description: string;
  flows: Record<string, unknown>[];
  settings: Record<string, unknown>;
  env: Record<string, string>;
  memory: { min: number; max: number; default: number };
  cpu: { min: number; max: number; default: number };
}

const LIMITS = { memory: { min: 128, max: 4096, default: 256 }, cpu: { min: 0.1, max: 4, default: 1 } };

/**
 * The starter flow talks to the platform broker through the env Openflow injects, so it works
 * unchanged in every project: its topics are mounted under the project's namespace by the broker.
 */
const STARTER_FLOWS = [
  { id: 'of-starter-tab', type: 'tab', label: 'Starter', disabled: false, info: 'Inject → debug, and an MQTT round trip through the project broker.' },
  { id: 'of-inject', type: 'inject', z: 'of-starter-tab', name: 'Every 30 s', props: [{ p: 'payload' }, { p: 'topic', vt: 'str' }], repeat: '30', crontab: '', once: true, onceDelay: '1', topic: 'hello', payload: '', payloadType: 'date', x: 140, y: 80, wires: [['of-debug', 'of-mqtt-out']] },
  { id: 'of-debug', type: 'debug', z: 'of-starter-tab', name: 'Debug', active: true, tosidebar: true, console: false, tostatus: false, complete: 'payload', targetType: 'msg', statusVal: '', statusType: 'auto', x: 380, y: 80, wires: [] },
  { id: 'of-mqtt-out', type: 'mqtt out', z: 'of-starter-tab', name: 'Publish hello', topic: 'starter/hello', qos: '0', retain: 'false', respTopic: '', contentType: '', userProps: '', correl: '', expiry: '', broker: 'of-broker', x: 400, y: 140, wires: [] },
  { id: 'of-mqtt-in', type: 'mqtt in', z: 'of-starter-tab', name: 'Receive hello', topic: 'starter/#', qos: '0', datatype: 'auto-detect', broker: 'of-broker', nl: false, rap: true, rh: 0, inputs: 0, x: 150, y: 200, wires: [['of-mqtt-debug']] },
  { id: 'of-mqtt-debug', type: 'debug', z: 'of-starter-tab', name: 'MQTT debug', active: true, tosidebar: true, console: false, tostatus: true, complete: 'true', targetType: 'full', statusVal: 'topic', statusType: 'msg', x: 380, y: 200, wires: [] },
  { id: 'of-broker', type: 'mqtt-broker', name: 'Openflow broker', broker: '${OPENFLOW_MQTT_HOST}', port: '${OPENFLOW_MQTT_PORT}', clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true, autoUnsubscribe: true, birthTopic: '', closeTopic: '', willTopic: '', userProps: '', sessionExpiry: '', credentials: { user: '${OPENFLOW_MQTT_USERNAME}', password: '${OPENFLOW_MQTT_PASSWORD}' } },
];

export const BUILTIN_TEMPLATES: readonly TemplateDefinition[] = [
  { id: 'blank', name: 'Blank', description: 'An empty Node-RED workspace.', flows: [], settings: {}, env: {}, ...LIMITS },
  { id: 'starter', name: 'Starter', description: 'Inject → debug plus MQTT in/out wired to the project broker.', flows: STARTER_FLOWS, settings: {}, env: {}, ...LIMITS },
];
