/** The part of a running Node-RED's admin API the manager drives directly. */
export interface RuntimeAdmin {
  /**
   * Makes the runtime re-read flows.json and flows_cred.json from its storage and restart its flows. Like any deploy,
   * it resolves once the runtime has loaded the files; the flows start just after.
   */
  reloadFlows(target: { host: string; port: number; magicToken: string }): Promise<void>;
}

const TIMEOUT_MS = 60_000;

/**
 * `POST /flows` with `Node-RED-Deployment-Type: reload` ignores the body and reloads both files from storage. It is
 * the safe way to put new credentials into a live runtime: a deploy that carries a `credentials` block keeps stale or
 * plaintext credentials on disk in Node-RED 4.1.
 */
export class HttpRuntimeAdmin implements RuntimeAdmin {
  async reloadFlows(target: { host: string; port: number; magicToken: string }): Promise<void> {
    const res = await fetch(`http://${target.host}:${target.port}/flows`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${target.magicToken}`,
        'content-type': 'application/json',
        'node-red-api-version': 'v2',
        'node-red-deployment-type': 'reload',
      },
      body: '{}',
      redirect: 'error',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`the runtime refused the reload (${res.status}): ${text.slice(0, 300)}`);
  }
}
