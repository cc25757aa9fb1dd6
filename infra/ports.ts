/** Local TCP ports for the servers Remedy starts (embedded Postgres, the Temporal dev server). */
import net from 'node:net';

/** The loopback address every locally started server listens on. */
export const LOCAL_HOST = '127.0.0.1';

/** True when nothing listens on `port` at `host` (checked by listening on it for a moment). */
export function canListen(port: number, host = LOCAL_HOST): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port the system reports free at `host` right now. */
export function freePort(host = LOCAL_HOST): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('could not determine a free port')),
      );
    });
  });
}
