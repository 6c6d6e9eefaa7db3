import type { Instance } from '../api/types.js';

/** The instance list of one project as the dashboard knows it: a server snapshot kept current by pushes. */
export interface InstancesState {
  projectId: string | null;
  items: Instance[];
  /** A snapshot has arrived since the project was chosen. */
  loaded: boolean;
  /** The push stream is connected; while false the list may be stale. */
  live: boolean;
}

export type InstancesAction =
  | { type: 'reset'; projectId: string | null }
  | { type: 'snapshot'; items: Instance[] }
  | { type: 'upsert'; instance: Instance }
  | { type: 'remove'; id: string }
  | { type: 'connection'; live: boolean };

export const initialInstances: InstancesState = { projectId: null, items: [], loaded: false, live: false };

const bySubdomain = (a: Instance, b: Instance) => (a.subdomain < b.subdomain ? -1 : a.subdomain > b.subdomain ? 1 : 0);

/**
 * Pushed events and HTTP responses race: a start request's 202 ("starting") can arrive after the
 * stream already said "running". Every row carries updatedAt, so an older copy never replaces a newer one.
 */
function newer(current: Instance | undefined, incoming: Instance): Instance {
  if (!current) return incoming;
  return Date.parse(incoming.updatedAt) < Date.parse(current.updatedAt) ? current : incoming;
}

export function instancesReducer(state: InstancesState, action: InstancesAction): InstancesState {
  switch (action.type) {
    case 'reset':
      return { ...initialInstances, projectId: action.projectId };
    case 'snapshot': {
      const known = new Map(state.items.map((i) => [i.id, i]));
      const items = action.items.filter((i) => i.projectId === state.projectId).map((i) => newer(known.get(i.id), i));
      return { ...state, items: items.sort(bySubdomain), loaded: true };
    }
    case 'upsert': {
      const incoming = action.instance;
      if (incoming.projectId !== state.projectId) return state;
      const current = state.items.find((i) => i.id === incoming.id);
      const next = newer(current, incoming);
      if (next === current) return state;
      const items = current ? state.items.map((i) => (i.id === incoming.id ? next : i)) : [...state.items, next].sort(bySubdomain);
      return { ...state, items };
    }
    case 'remove':
      return { ...state, items: state.items.filter((i) => i.id !== action.id) };
    case 'connection':
      return state.live === action.live ? state : { ...state, live: action.live };
  }
}
