export type ToastKind = 'success' | 'info' | 'warning' | 'error';

export interface ToastAction {
  label: string;
  run: () => void | Promise<void>;
}

export interface ToastInput {
  kind: ToastKind;
  title: string;
  message?: string;
  action?: ToastAction;
}

export interface Toast extends ToastInput {
  id: number;
}

export type ToastsAction = { type: 'add'; toast: Toast } | { type: 'dismiss'; id: number };

/** At most this many toasts stay on screen; the oldest make way. */
export const MAX_TOASTS = 4;

export function toastsReducer(state: Toast[], action: ToastsAction): Toast[] {
  switch (action.type) {
    case 'add': {
      // The same message twice in a row (a retried action failing again) shows once.
      const rest = state.filter((t) => !(t.title === action.toast.title && t.message === action.toast.message));
      return [...rest, action.toast].slice(-MAX_TOASTS);
    }
    case 'dismiss':
      return state.filter((t) => t.id !== action.id);
  }
}

/** How long a toast stays; ones offering an action wait for the person. */
export function toastLifetimeMs(t: ToastInput): number | null {
  if (t.action) return null;
  return t.kind === 'error' ? 12_000 : 6_000;
}
