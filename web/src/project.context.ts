import { createContext, useContext, type Dispatch } from 'react';
import type { Project } from './api/types.js';
import type { InstancesAction, InstancesState } from './lib/instances.reducer.js';

export interface ProjectContextValue {
  project: Project;
  instances: InstancesState;
  dispatch: Dispatch<InstancesAction>;
}

export const ProjectContext = createContext<ProjectContextValue | null>(null);

export function useProject(): ProjectContextValue {
  const ctx = useContext(ProjectContext);
  if (!ctx) throw new Error('useProject outside <ProjectScope>');
  return ctx;
}
