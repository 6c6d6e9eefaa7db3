import { createContext, useContext } from 'react';
import type { ApiClient } from './api/api.client.js';
import type { Project, PublicUser } from './api/types.js';
import type { Navigate } from './hooks/use-navigation.js';
import type { Route } from './lib/route.parser.js';
import type { ToastInput } from './lib/toasts.reducer.js';

export interface AppContextValue {
  api: ApiClient;
  route: Route;
  navigate: Navigate;
  toast: (t: ToastInput) => void;
  /** Shows a failure as an error toast with its readable message. */
  fail: (title: string, err: unknown) => void;
  user: PublicUser | null;
  signedIn: (user: PublicUser) => void;
  signOut: () => Promise<void>;
  projects: Project[];
  projectsLoaded: boolean;
  reloadProjects: () => Promise<Project[]>;
}

export const AppContext = createContext<AppContextValue | null>(null);

export function useApp(): AppContextValue {
  const ctx = useContext(AppContext);
  if (!ctx) throw new Error('useApp outside <AppContext>');
  return ctx;
}

/** For screens only shown to a signed-in person. */
export function useUser(): PublicUser {
  const { user } = useApp();
  if (!user) throw new Error('useUser while signed out');
  return user;
}
