import { get } from 'node:http';

/** How the Docker driver learns that Node-RED inside a container answers. */
export interface HttpProbe {
  /** True when an HTTP GET / gets any response at all within the timeout. */
  answersHttp(host: string, port: number, timeoutMs: number): Promise<boolean>;
}

export class NodeHttpProbe implements HttpProbe {
  answersHttp(host: string, port: number, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      // http.get rather than fetch: a connection accepted and then closed (a proxy in front of a port nobody
      // listens on yet) can leave undici's fetch pending forever.
      const request = get({ host, port, path: '/', agent: false, timeout: timeoutMs }, (response) => {
        response.resume();
        resolve(true);
      });
      request.once('timeout', () => request.destroy());
      request.once('error', () => resolve(false));
    });
  }
}
