import { useEffect, useReducer, useState } from 'react';
import type { Instance, Items } from '../api/types.js';
import { useApp } from '../app.context.js';
import { Loading, Notice } from '../components/notice.js';
import { useEventSource } from '../hooks/use-event-source.js';
import { initialInstances, instancesReducer } from '../lib/instances.reducer.js';
import type { Route } from '../lib/route.parser.js';
import { ProjectContext } from '../project.context.js';
import { AuditView } from './audit.view.js';
import { InstanceView } from './instance.view.js';
import { InstancesView } from './instances.view.js';
import { MembersView } from './members.view.js';

type ProjectRoute = Extract<Route, { projectId: string }>;

/**
 * Everything inside one project shares one push stream of instance changes, so the list and an
 * instance's page always agree and switching between them costs no request.
 */
export function ProjectScope({ route }: { route: ProjectRoute }) {
  const { projects, projectsLoaded } = useApp();
  const project = projects.find((p) => p.id === route.projectId) ?? null;
  const [instances, dispatch] = useReducer(instancesReducer, initialInstances);
  const [streamFailed, setStreamFailed] = useState(false);

  useEffect(() => {
    dispatch({ type: 'reset', projectId: project?.id ?? null });
    setStreamFailed(false);
  }, [project?.id]);

  useEventSource(project ? `/api/projects/${project.id}/events` : null, {
    events: {
      snapshot: (data) => dispatch({ type: 'snapshot', items: (data as Items<Instance>).items }),
      instance: (data) => dispatch({ type: 'upsert', instance: data as Instance }),
      'instance-deleted': (data) => dispatch({ type: 'remove', id: (data as { id: string }).id }),
    },
    onOpen: () => {
      setStreamFailed(false);
      dispatch({ type: 'connection', live: true });
    },
    onError: (closed) => {
      dispatch({ type: 'connection', live: false });
      if (closed) setStreamFailed(true);
    },
  });

  if (!project) {
    return !projectsLoaded ? (
      <Loading what="the project" />
    ) : (
      <Notice title="Project not found" tone="warning">
        <p>It may have been deleted, or you are not a member of it.</p>
      </Notice>
    );
  }
  if (instances.projectId !== project.id) return <Loading what="the project" />;

  return (
    <ProjectContext.Provider value={{ project, instances, dispatch }}>
      {streamFailed ? (
        <Notice title="Live updates stopped" tone="warning">
          <p>The connection for live instance state was refused. Reload the page to reconnect.</p>
        </Notice>
      ) : null}
      {route.name === 'project' ? <InstancesView /> : null}
      {route.name === 'instance' ? <InstanceView instanceId={route.instanceId} tab={route.tab} /> : null}
      {route.name === 'members' ? <MembersView /> : null}
      {route.name === 'audit' ? <AuditView /> : null}
    </ProjectContext.Provider>
  );
}
