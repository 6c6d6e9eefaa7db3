import { useCallback, useEffect, useId, useLayoutEffect, useReducer, useRef, useState } from 'react';
import type { Instance, LogLine } from '../api/types.js';
import { Notice } from '../components/notice.js';
import { useEventSource } from '../hooks/use-event-source.js';
import { initialLogs, logsReducer } from '../lib/logs.reducer.js';

const FLUSH_MS = 100;

export function InstanceLogsTab({ instance }: { instance: Instance }) {
  const [logs, dispatch] = useReducer(logsReducer, initialLogs);
  const [follow, setFollow] = useState(true);
  const [connection, setConnection] = useState<'connecting' | 'open' | 'refused'>('connecting');
  const followId = useId();
  const pending = useRef<LogLine[]>([]);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const view = useRef<HTMLPreElement>(null);

  // Lines arrive one event each (a thousand at once on connect); render them in batches.
  const flush = useCallback(() => {
    timer.current = null;
    const lines = pending.current;
    pending.current = [];
    dispatch({ type: 'append', lines });
  }, []);
  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );

  useEventSource(`/api/instances/${instance.id}/logs?follow=true`, {
    events: {
      line: (data) => {
        pending.current.push(data as LogLine);
        timer.current ??= setTimeout(flush, FLUSH_MS);
      },
    },
    onOpen: () => {
      pending.current = [];
      dispatch({ type: 'reset' });
      setConnection('open');
    },
    onError: (closed) => setConnection(closed ? 'refused' : 'connecting'),
  });

  useLayoutEffect(() => {
    const el = view.current;
    if (follow && el) el.scrollTop = el.scrollHeight;
  }, [logs, follow]);

  return (
    <section aria-labelledby="logs-title">
      <div className="section-head">
        <h2 id="logs-title">Log</h2>
        <span className={connection === 'open' ? 'live on' : 'live'} role="status">
          <span className="dot" aria-hidden="true" />
          {connection === 'open' ? 'Following' : connection === 'refused' ? 'Stopped' : 'Connecting…'}
        </span>
        <label className="checkbox" htmlFor={followId}>
          <input id={followId} type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
          Scroll to newest
        </label>
      </div>
      {connection === 'refused' ? (
        <Notice title="The log stream was refused" tone="error">
          <p>The manager did not accept the request for this instance's log. Reload the page to try again.</p>
        </Notice>
      ) : null}
      {logs.dropped > 0 ? <p className="muted small-text">Older lines are hidden; the view keeps the newest {logs.lines.length}.</p> : null}
      <pre ref={view} className="log-view" tabIndex={0} aria-label={`Log of ${instance.subdomain}`} data-testid="log-view">
        {logs.lines.length === 0 ? (
          <span className="muted">No output yet.</span>
        ) : (
          logs.lines.map((l, i) => (
            <span key={`${logs.dropped + i}`} className={`log-line log-${l.stream}`}>
              <time dateTime={new Date(l.ts).toISOString()}>{new Date(l.ts).toLocaleTimeString()}</time> {l.line}
              {'\n'}
            </span>
          ))
        )}
      </pre>
    </section>
  );
}
