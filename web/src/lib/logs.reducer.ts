import type { LogLine } from '../api/types.js';

export interface LogsState {
  lines: LogLine[];
  /** Lines dropped from the front to stay within the limit, so the view can say so. */
  dropped: number;
}

export type LogsAction = { type: 'reset' } | { type: 'append'; lines: LogLine[] };

export const initialLogs: LogsState = { lines: [], dropped: 0 };

/**
 * Each (re)connection of the log stream replays the server's recent lines before following, so the
 * view resets on every open instead of trying to splice duplicates. The view keeps the newest `limit` lines.
 */
export function createLogsReducer(limit: number): (state: LogsState, action: LogsAction) => LogsState {
  return (state, action) => {
    switch (action.type) {
      case 'reset':
        return initialLogs;
      case 'append': {
        if (action.lines.length === 0) return state;
        const all = state.lines.concat(action.lines);
        const over = Math.max(0, all.length - limit);
        return { lines: over ? all.slice(over) : all, dropped: state.dropped + over };
      }
    }
  };
}

export const logsReducer = createLogsReducer(2000);
