/**
 * A throw-away CA and a server certificate for 127.0.0.1, made with the system `openssl`
 * (argv arrays, no shell) so the test cluster needs no extra npm dependency.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCerts {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export async function makeCerts(dir: string): Promise<TestCerts> {
  const ca = path.join(dir, 'ca.crt');
  const caKey = path.join(dir, 'ca.key');
  const cert = path.join(dir, 'server.crt');
  const key = path.join(dir, 'server.key');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', caKey, '-out', ca, '-subj', '/CN=tsdbdump-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await run('openssl', ['req', '-x509', '-CA', ca, '-CAkey', caKey, ...ec, '-keyout', key, '-out', cert, '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-addext', 'basicConstraints=critical,CA:FALSE',
    '-addext', 'extendedKeyUsage=serverAuth']);
  const [caPem, certPem, keyPem] = await Promise.all([ca, cert, key].map((f) => readFile(f, 'utf8')));
  return { caPem, certPem, keyPem };
}
