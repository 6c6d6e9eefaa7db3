import { get } from 'node:http';
import { createServer } from 'node:net';

export const LOOPBACK_HOST = '127.0.0.1';

/** The two network questions the process driver asks, always about 127.0.0.1. */
export interface LoopbackProbe {
  /** True when a real bind on the port succeeds right now. */
  portIsFree(port: number): Promise<boolean>;
  /** True when an HTTP GET / gets any response at all. */
  answersHttp(port: number, timeoutMs: number): Promise<boolean>;
}

export class LoopbackNetwork implements LoopbackProbe {
  portIsFree(port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen({ port, host: LOOPBACK_HOST, exclusive: true }, () => server.close(() => resolve(true)));
    });
  }

  answersHttp(port: number, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const request = get({ host: LOOPBACK_HOST, port, path: '/', agent: false, timeout: timeoutMs }, (response) => {
        response.resume();
        resolve(true);
      });
      request.once('timeout', () => request.destroy());
      request.once('error', () => resolve(false));
    });
  }
}
