import * as net from 'node:net';

// Ports for real Prometheus processes started by tests are taken below the kernel's ephemeral range
// (32768+ on Linux): a port found free there cannot be taken by an outgoing connection before the
// process binds it (a port from listen(0) could, and a Prometheus that cannot bind never gets Ready).
// Random, so parallel test runs on one machine rarely try the same one; never the same twice here.
const LOWEST = 20000;
const HIGHEST = 32767;
const handedOut = new Set<number>();

/** A free TCP port on loopback (for real Prometheus processes started by tests). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST + 1));
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free loopback port between ${LOWEST} and ${HIGHEST}`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
