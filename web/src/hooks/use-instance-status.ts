import { useEffect, useRef, useState } from 'react';
import type { InstanceStatus } from '../api/types.js';
import { useApp } from '../app.context.js';

const POLL_MS = 5_000;

/**
 * Resource use is sampled, not pushed: every few seconds while the page is visible, for the
 * instances that are running. A failed sample keeps the last value rather than flashing errors.
 */
export function useInstanceStatus(ids: string[]): Record<string, InstanceStatus> {
  const { api } = useApp();
  const [statuses, setStatuses] = useState<Record<string, InstanceStatus>>({});
  const key = [...ids].sort().join(',');
  const idsRef = useRef(ids);
  idsRef.current = ids;

  useEffect(() => {
    if (key === '') return;
    let current = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const sample = async () => {
      if (document.visibilityState === 'visible') {
        const results = await Promise.allSettled(idsRef.current.map(async (id) => [id, await api.status(id)] as const));
        if (!current) return;
        setStatuses((prev) => {
          const next = { ...prev };
          for (const r of results) if (r.status === 'fulfilled') next[r.value[0]] = r.value[1];
          return next;
        });
      }
      if (current) timer = setTimeout(() => void sample(), POLL_MS);
    };
    void sample();
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [api, key]);

  return statuses;
}
