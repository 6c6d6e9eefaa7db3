import { useCallback } from 'react';
import type { Instance } from '../api/types.js';
import { useApp } from '../app.context.js';
import { useProject } from '../project.context.js';

export type LifecycleOp = 'start' | 'stop' | 'restart';

/** Which operations make sense in a state; the server refuses the others with 409 anyway. */
export const ALLOWED: Record<LifecycleOp, Instance['state'][]> = {
  start: ['stopped', 'error'],
  stop: ['running', 'starting', 'error'],
  restart: ['running', 'error'],
};

export function useInstanceOps() {
  const { api, toast } = useApp();
  const { dispatch } = useProject();

  const lifecycle = useCallback(
    async (instance: Instance, op: LifecycleOp) => {
      dispatch({ type: 'upsert', instance: await api.lifecycle(instance.id, op) });
    },
    [api, dispatch],
  );

  /**
   * The tab is opened inside the click so the browser does not treat it as a pop-up, then pointed at
   * the one-time link once the manager has issued it.
   */
  const launch = useCallback(
    async (instance: Instance) => {
      const tab = window.open('', '_blank');
      let url: string;
      try {
        url = (await api.launch(instance.id)).url;
      } catch (err) {
        tab?.close();
        throw err;
      }
      if (tab) {
        tab.opener = null;
        tab.location.href = url;
        return;
      }
      toast({
        kind: 'info',
        title: 'The browser blocked the new tab',
        message: 'The sign-in link works once, for one minute.',
        action: { label: 'Open editor', run: () => void window.open(url, '_blank', 'noopener') },
      });
    },
    [api, toast],
  );

  return { lifecycle, launch };
}
