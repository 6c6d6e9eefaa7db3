/**
 * What the dashboard remembers in this browser. "Signed in" is only a hint that lets the first load skip
 * asking /api/me when there is certainly no session (which would be a failed request on every visit).
 */
export const preferences = {
  signedIn(): boolean {
    return readKey('openflow.signedIn') === '1';
  },
  setSignedIn(value: boolean): void {
    writeKey('openflow.signedIn', value ? '1' : null);
  },
  lastProject(): string | null {
    return readKey('openflow.project');
  },
  setLastProject(id: string): void {
    writeKey('openflow.project', id);
  },
};

function readKey(key: string): string | null {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

function writeKey(key: string, value: string | null): void {
  try {
    if (value === null) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, value);
  } catch {
    // Storage can be disabled (private windows, policies); the hint is an optimisation only.
  }
}
