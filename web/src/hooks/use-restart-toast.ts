import { useCallback } from 'react';
import type { Instance } from '../api/types.js';
import { useApp } from '../app.context.js';
import { useProject } from '../project.context.js';

/** The one wording for "saved, but the running instance only picks it up after a restart". */
export function useRestartToast() {
  const { api, toast } = useApp();
  const { dispatch } = useProject();
  return useCallback(
    (instance: Instance, title: string, message: string) =>
      toast({
        kind: 'warning',
        title,
        message,
        action: {
          label: 'Restart now',
          run: async () => {
            dispatch({ type: 'upsert', instance: await api.lifecycle(instance.id, 'restart') });
          },
        },
      }),
    [api, toast, dispatch],
  );
}
