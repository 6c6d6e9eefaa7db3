import { useEffect, useRef } from 'react';

export interface EventSourceHandlers {
  events: Record<string, (data: unknown) => void>;
  onOpen?: () => void;
  /** Called with `closed` true when the browser gave up (an HTTP error answer) rather than reconnecting. */
  onError?: (closed: boolean) => void;
}

/** Follows a Server-Sent Events stream while `url` is set; the browser reconnects by itself after drops. */
export function useEventSource(url: string | null, handlers: EventSourceHandlers): void {
  const ref = useRef(handlers);
  ref.current = handlers;
  useEffect(() => {
    if (!url) return;
    const source = new EventSource(url);
    const names = Object.keys(ref.current.events);
    const listeners = names.map((name) => {
      const listener = (e: MessageEvent<string>) => {
        let data: unknown;
        try {
          data = JSON.parse(e.data);
        } catch {
          return;
        }
        ref.current.events[name]?.(data);
      };
      source.addEventListener(name, listener);
      return [name, listener] as const;
    });
    source.onopen = () => ref.current.onOpen?.();
    source.onerror = () => ref.current.onError?.(source.readyState === EventSource.CLOSED);
    return () => {
      for (const [name, listener] of listeners) source.removeEventListener(name, listener);
      source.close();
    };
  }, [url]);
}
