import type { CredentialMap } from '../nodered/credentials.js';

/** One entry of a Node-RED flows file: a node, a config node, a tab (`type: 'tab'`), a subflow or a group. */
export interface FlowNode {
  id: string;
  type: string;
  z?: string;
  name?: string;
  label?: string;
  [key: string]: unknown;
}

export interface NodeRef {
  id: string;
  type: string;
  name: string | null;
  /** The tab or subflow the node sits on; null for tabs, subflows and global config nodes. */
  flow: string | null;
}

export interface ChangedNode extends NodeRef {
  /** Names of the properties that differ; credential fields appear as `credentials.<field>`, never with values. */
  properties: string[];
}

export interface RenamedFlow {
  id: string;
  type: 'tab' | 'subflow';
  from: string;
  to: string;
}

/** What applying `to` over `from` changes. */
export interface FlowDiff {
  added: NodeRef[];
  removed: NodeRef[];
  changed: ChangedNode[];
  renamed: RenamedFlow[];
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const rb = b as Record<string, unknown>;
  const ra = a as Record<string, unknown>;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(rb, k) && sameValue(ra[k], rb[k]));
}

function titleOf(n: FlowNode): string | null {
  const t = n.type === 'tab' ? n.label : n.name;
  return typeof t === 'string' && t !== '' ? t : null;
}

function refOf(n: FlowNode): NodeRef {
  return { id: n.id, type: n.type, name: titleOf(n), flow: typeof n.z === 'string' && n.z !== '' ? n.z : null };
}

function changedProperties(a: FlowNode, b: FlowNode, renameKey: string | null): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  const out: string[] = [];
  for (const k of keys) {
    if (k === renameKey) continue;
    if (!sameValue(a[k], b[k])) out.push(k);
  }
  return out;
}

function changedCredentials(a: Record<string, unknown> | undefined, b: Record<string, unknown> | undefined): string[] {
  const keys = new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})]);
  return [...keys].filter((k) => !sameValue(a?.[k], b?.[k])).map((k) => `credentials.${k}`);
}

const byId = (x: { id: string }, y: { id: string }) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0);

export function diffFlows(from: readonly FlowNode[], to: readonly FlowNode[], fromCreds: CredentialMap = {}, toCreds: CredentialMap = {}): FlowDiff {
  const before = new Map(from.map((n) => [n.id, n]));
  const after = new Map(to.map((n) => [n.id, n]));
  const diff: FlowDiff = { added: [], removed: [], changed: [], renamed: [] };
  for (const [id, n] of after) if (!before.has(id)) diff.added.push(refOf(n));
  for (const [id, n] of before) if (!after.has(id)) diff.removed.push(refOf(n));
  for (const [id, b] of after) {
    const a = before.get(id);
    if (!a) continue;
    const flowType = b.type === 'tab' || b.type === 'subflow' ? b.type : null;
    const renameKey = b.type === 'tab' ? 'label' : b.type === 'subflow' ? 'name' : null;
    if (flowType && renameKey && !sameValue(a[renameKey], b[renameKey])) {
      diff.renamed.push({ id, type: flowType, from: String(a[renameKey] ?? ''), to: String(b[renameKey] ?? '') });
    }
    const properties = [...changedProperties(a, b, renameKey), ...changedCredentials(fromCreds[id], toCreds[id])];
    if (properties.length) diff.changed.push({ ...refOf(b), properties: properties.sort() });
  }
  diff.added.sort(byId);
  diff.removed.sort(byId);
  diff.changed.sort(byId);
  diff.renamed.sort(byId);
  return diff;
}

/** Nodes as a person counts them: everything but the tabs and subflow definitions that hold them. */
export function countNodes(flows: readonly FlowNode[]): number {
  return flows.filter((n) => n.type !== 'tab' && n.type !== 'subflow').length;
}
