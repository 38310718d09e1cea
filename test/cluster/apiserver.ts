/**
 * The HTTPS API server of one test cluster: bearer-token auth, discovery, namespaces, pods
 * (list/get/watch/delete, Table output), logs, exec (see exec.ts), pod proxy and access reviews.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { TestCerts } from './certs';
import { handleExecUpgrade, checkExec, type ExecFault } from './exec';
import {
  type Json, type StatusBody, badRequest, forbidden, matchLabels, namespaceObject, notFound, parseFieldSelector,
  parseLabelSelector, podObject, status, table,
} from './k8s';
import { type LogBuffer, type PodEvents, PodSlot, PROMETHEUS_PORT, PROMETHEUS_PORT_NAME } from './podRuntime';

export interface TestUser {
  name: string;
  token: string;
  groups: string[];
  /** admin: everything; viewer: get/list/watch (no exec, no proxy, no delete). */
  role: 'admin' | 'viewer';
}

export function isAllowed(user: TestUser, verb: string, resource: string, subresource = ''): boolean {
  if (user.role === 'admin') return true;
  if (resource === 'pods' && ['exec', 'attach', 'portforward', 'proxy'].includes(subresource)) return false;
  if (resource === 'selfsubjectaccessreviews' || resource === 'selfsubjectreviews') return verb === 'create';
  return ['get', 'list', 'watch'].includes(verb);
}

interface StoredEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Json;
}

/** The objects of one cluster, their resourceVersions and the watch event history. */
export class ClusterState implements PodEvents {
  readonly slots: PodSlot[] = [];
  readonly namespaces = new Map<string, string>();
  readonly faults: ExecFault[] = [];
  private rv = 100;
  private readonly history: StoredEvent[] = [];
  private readonly watchers = new Set<(e: StoredEvent) => void>();
  stopping = false;
  /** Milliseconds between a pod's DELETED event and its replacement's ADDED event. */
  recreateDelayMs = 300;

  constructor(readonly name: string) {}

  get resourceVersion(): string {
    return String(this.rv);
  }

  addNamespace(name: string): void {
    if (!this.namespaces.has(name)) this.namespaces.set(name, new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'));
  }

  changed(slot: PodSlot, type: 'ADDED' | 'MODIFIED' | 'DELETED'): void {
    const pod = type === 'DELETED' ? slot.lastDeleted : slot.current;
    if (!pod) return;
    const rv = ++this.rv;
    slot.resourceVersion = String(rv);
    const event: StoredEvent = { rv, type, object: podObject(slot, pod, String(rv)) };
    this.history.push(event);
    if (this.history.length > 5000) this.history.splice(0, 1000);
    for (const w of this.watchers) w(event);
  }

  slot(namespace: string, name: string): PodSlot | undefined {
    return this.slots.find((s) => s.def.namespace === namespace && s.def.name === name);
  }

  podJson(slot: PodSlot): Json | undefined {
    return slot.current ? podObject(slot, slot.current, slot.resourceVersion) : undefined;
  }

  pods(namespace?: string): Json[] {
    return this.slots
      .filter((s) => s.current && (!namespace || s.def.namespace === namespace))
      .map((s) => this.podJson(s) as Json)
      .sort((a, b) => key(a).localeCompare(key(b)));
  }

  /** Deletes a pod like a StatefulSet pod: it terminates, then comes back with a new uid. */
  deletePod(slot: PodSlot, gracePeriodSeconds = 30): void {
    void slot.terminate(gracePeriodSeconds).then(() => {
      setTimeout(() => {
        if (this.stopping || slot.current) return;
        slot.create().catch(() => undefined);
      }, this.recreateDelayMs);
    });
  }

  subscribe(f: (e: StoredEvent) => void): () => void {
    this.watchers.add(f);
    return () => this.watchers.delete(f);
  }

  /** Events after `rv`, or undefined when the history no longer reaches back that far. */
  eventsSince(rv: number): StoredEvent[] | undefined {
    if (rv >= this.rv) return [];
    const first = this.history[0];
    if (!first || first.rv > rv + 1) return undefined;
    return this.history.filter((e) => e.rv > rv);
  }
}

/**
 * A streaming list (WatchList, Kubernetes 1.27+; on by default in client-go 1.35+, so kubectl 1.37's
 * `delete --wait` uses it): `watch=true&sendInitialEvents=true&allowWatchBookmarks=true` asks for
 * the current objects as ADDED events, then one BOOKMARK whose `k8s.io/initial-events-end`
 * annotation marks the end of the list; without it client-go waits for ever.
 */
function isStreamingList(url: URL): boolean {
  return url.searchParams.get('sendInitialEvents') === 'true';
}
function initialEventsEnd(kind: string, resourceVersion: string): Json {
  return {
    type: 'BOOKMARK',
    object: { kind, apiVersion: 'v1', metadata: { resourceVersion, annotations: { 'k8s.io/initial-events-end': 'true' } } },
  };
}

const key = (o: Json): string => `${(o.metadata as Json).namespace}/${(o.metadata as Json).name}`;

// ---------------------------------------------------------------------------------------------
// Discovery documents

const POD_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

const AGGREGATED_CORE = {
  kind: 'APIGroupDiscoveryList',
  apiVersion: 'apidiscovery.k8s.io/v2',
  metadata: {},
  items: [
    {
      metadata: { creationTimestamp: null },
      versions: [
        {
          version: 'v1',
          freshness: 'Current',
          resources: [
            {
              resource: 'pods',
              responseKind: { group: '', version: 'v1', kind: 'Pod' },
              scope: 'Namespaced',
              singularResource: 'pod',
              verbs: POD_VERBS,
              shortNames: ['po'],
              categories: ['all'],
              subresources: [
                { subresource: 'exec', responseKind: { group: '', version: 'v1', kind: 'PodExecOptions' }, verbs: ['create', 'get'] },
                { subresource: 'log', responseKind: { group: '', version: 'v1', kind: 'Pod' }, verbs: ['get'] },
                {
                  subresource: 'proxy',
                  responseKind: { group: '', version: 'v1', kind: 'PodProxyOptions' },
                  verbs: ['create', 'delete', 'get', 'patch', 'update'],
                },
                { subresource: 'status', responseKind: { group: '', version: 'v1', kind: 'Pod' }, verbs: ['get', 'patch', 'update'] },
              ],
            },
            {
              resource: 'namespaces',
              responseKind: { group: '', version: 'v1', kind: 'Namespace' },
              scope: 'Cluster',
              singularResource: 'namespace',
              verbs: ['get', 'list', 'watch'],
              shortNames: ['ns'],
            },
          ],
        },
      ],
    },
  ],
};

const AGGREGATED_GROUPS = {
  kind: 'APIGroupDiscoveryList',
  apiVersion: 'apidiscovery.k8s.io/v2',
  metadata: {},
  items: [
    {
      metadata: { name: 'authorization.k8s.io', creationTimestamp: null },
      versions: [
        {
          version: 'v1',
          freshness: 'Current',
          resources: [
            {
              resource: 'selfsubjectaccessreviews',
              responseKind: { group: '', version: '', kind: 'SelfSubjectAccessReview' },
              scope: 'Cluster',
              singularResource: 'selfsubjectaccessreview',
              verbs: ['create'],
            },
          ],
        },
      ],
    },
    {
      metadata: { name: 'authentication.k8s.io', creationTimestamp: null },
      versions: [
        {
          version: 'v1',
          freshness: 'Current',
          resources: [
            {
              resource: 'selfsubjectreviews',
              responseKind: { group: '', version: '', kind: 'SelfSubjectReview' },
              scope: 'Cluster',
              singularResource: 'selfsubjectreview',
              verbs: ['create'],
            },
          ],
        },
      ],
    },
  ],
};

const LEGACY_CORE_RESOURCES = {
  kind: 'APIResourceList',
  groupVersion: 'v1',
  resources: [
    { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: POD_VERBS, shortNames: ['po'], categories: ['all'] },
    { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
    { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
    {
      name: 'pods/proxy',
      singularName: '',
      namespaced: true,
      kind: 'PodProxyOptions',
      verbs: ['create', 'delete', 'get', 'patch', 'update'],
    },
    {
      name: 'namespaces',
      singularName: 'namespace',
      namespaced: false,
      kind: 'Namespace',
      verbs: ['get', 'list', 'watch'],
      shortNames: ['ns'],
    },
  ],
};

const legacyGroup = (group: string, resources: Json[]): Json => ({
  kind: 'APIResourceList',
  apiVersion: 'v1',
  groupVersion: `${group}/v1`,
  resources,
});

const LEGACY_GROUPS = {
  kind: 'APIGroupList',
  apiVersion: 'v1',
  groups: ['authorization.k8s.io', 'authentication.k8s.io'].map((name) => ({
    name, versions: [{ groupVersion: `${name}/v1`, version: 'v1' }], preferredVersion: { groupVersion: `${name}/v1`, version: 'v1' },
  })),
};

const AGGREGATED_CT = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
const TABLE_CT = 'application/json;as=Table;v=v1;g=meta.k8s.io';

// ---------------------------------------------------------------------------------------------
// Server

function sendJson(res: http.ServerResponse, code: number, body: unknown, contentType = 'application/json'): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private' });
  res.end(text);
}

const sendStatus = (res: http.ServerResponse, s: StatusBody): void => sendJson(res, s.code, s);

/** An HTTP error written on a raw socket (upgrade requests have no ServerResponse). */
export function writeRawStatus(socket: net.Socket, s: StatusBody): void {
  const text = JSON.stringify(s);
  const reason = http.STATUS_CODES[s.code] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${s.code} ${reason}\r\nContent-Type: ` +
      `application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}

async function readBody(req: http.IncomingMessage, limit = 16 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export function authenticate(req: http.IncomingMessage, users: TestUser[]): TestUser | undefined {
  const auth = req.headers.authorization;
  let token: string | undefined;
  if (auth && /^bearer\s+/i.test(auth)) token = auth.replace(/^bearer\s+/i, '').trim();
  if (!token) {
    // Browser-style WebSocket clients: the token as a subprotocol.
    const protos = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
    const p = protos.find((s) => s.startsWith('base64url.bearer.authorization.k8s.io.'));
    if (p) token = Buffer.from(p.slice('base64url.bearer.authorization.k8s.io.'.length), 'base64url').toString('utf8');
  }
  return token ? users.find((u) => u.token === token) : undefined;
}

export const UNAUTHORIZED = status(401, 'Unauthorized', 'Unauthorized');

export class ApiServer {
  readonly server: https.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(
    readonly state: ClusterState,
    readonly users: TestUser[],
    certs: TestCerts,
  ) {
    this.server = https.createServer({ cert: certs.certPem, key: certs.keyPem });
    this.server.keepAliveTimeout = 30000;
    this.server.on('secureConnection', (s: net.Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('request', (req, res) => {
      this.handle(req, res).catch((err: Error) => {
        if (!res.headersSent) sendStatus(res, status(500, 'InternalError', `Internal error occurred: ${err.message}`));
        else res.destroy();
      });
    });
    this.server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      socket.on('error', () => undefined);
      const user = authenticate(req, this.users);
      if (!user) return writeRawStatus(socket, UNAUTHORIZED);
      handleExecUpgrade(this.state, user, req, socket, head);
    });
  }

  listen(port = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.port = (this.server.address() as net.AddressInfo).port;
        resolve(this.port);
      });
    });
  }

  /** Destroys every open client connection (watches, logs, execs, keep-alive sockets). */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.dropConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const user = authenticate(req, this.users);
    if (!user) return sendStatus(res, UNAUTHORIZED);
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const accept = String(req.headers.accept ?? '');
    const wantsTable = accept.includes('as=Table');
    const wantsAggregated = accept.includes('as=APIGroupDiscoveryList');

    // Discovery
    if (url.pathname === '/version') {
      return sendJson(res, 200, {
        major: '1',
        minor: '32',
        gitVersion: 'v1.32.0',
        gitCommit: '0000000000000000000000000000000000000000',
        gitTreeState: 'clean',
        buildDate: '2024-12-11T00:00:00Z',
        goVersion: 'go1.23.4',
        compiler: 'gc',
        platform: 'linux/amd64',
      });
    }
    if (url.pathname === '/api') {
      return wantsAggregated
        ? sendJson(res, 200, AGGREGATED_CORE, AGGREGATED_CT)
        : sendJson(res, 200, {
            kind: 'APIVersions',
            versions: ['v1'],
            serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${this.port}` }],
          });
    }
    if (url.pathname === '/apis') {
      return wantsAggregated ? sendJson(res, 200, AGGREGATED_GROUPS, AGGREGATED_CT) : sendJson(res, 200, LEGACY_GROUPS);
    }
    if (url.pathname === '/api/v1') return sendJson(res, 200, LEGACY_CORE_RESOURCES);
    if (url.pathname === '/apis/authorization.k8s.io/v1') {
      return sendJson(
        res,
        200,
        legacyGroup('authorization.k8s.io', [
          {
            name: 'selfsubjectaccessreviews',
            singularName: 'selfsubjectaccessreview',
            namespaced: false,
            kind: 'SelfSubjectAccessReview',
            verbs: ['create'],
          },
        ]),
      );
    }
    if (url.pathname === '/apis/authentication.k8s.io/v1') {
      return sendJson(
        res,
        200,
        legacyGroup('authentication.k8s.io', [
          {
            name: 'selfsubjectreviews',
            singularName: 'selfsubjectreview',
            namespaced: false,
            kind: 'SelfSubjectReview',
            verbs: ['create'],
          },
        ]),
      );
    }
    if (url.pathname === '/healthz' || url.pathname === '/readyz' || url.pathname === '/livez') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      return void res.end('ok');
    }

    // Access reviews
    if (method === 'POST' && url.pathname === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews') {
      return this.accessReview(req, res, user);
    }
    if (method === 'POST' && url.pathname === '/apis/authentication.k8s.io/v1/selfsubjectreviews') {
      return sendJson(res, 201, {
        kind: 'SelfSubjectReview',
        apiVersion: 'authentication.k8s.io/v1',
        metadata: { creationTimestamp: null },
        status: { userInfo: { username: user.name, groups: user.groups } },
      });
    }

    if (parts[0] !== 'api' || parts[1] !== 'v1')
      return sendStatus(res, status(404, 'NotFound', 'the server could not find the requested resource'));
    const rest = parts.slice(2);

    // Namespaces
    if (rest[0] === 'namespaces' && rest.length <= 2 && method === 'GET') {
      if (!isAllowed(user, rest.length === 1 ? 'list' : 'get', 'namespaces'))
        return sendStatus(res, forbidden(user.name, rest.length === 1 ? 'list' : 'get', 'namespaces', undefined, rest[1]));
      const rv = this.state.resourceVersion;
      const all = [...this.state.namespaces]
        .map(([name, created]) => namespaceObject(name, created, rv))
        .sort((a, b) => String((a.metadata as Json).name).localeCompare(String((b.metadata as Json).name)));
      if (rest.length === 2) {
        const ns = all.find((n) => (n.metadata as Json).name === rest[1]);
        if (!ns) return sendStatus(res, notFound(rest[1], 'namespaces'));
        return wantsTable ? sendJson(res, 200, table('namespaces', [ns], rv), TABLE_CT) : sendJson(res, 200, ns);
      }
      if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
        // Namespaces never change here: send the current ones, then keep the stream open until the timeout.
        return this.staticWatch(req, res, url, all, wantsTable);
      }
      return wantsTable
        ? sendJson(res, 200, table('namespaces', all, rv), TABLE_CT)
        : sendJson(res, 200, { kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: rv }, items: all });
    }

    // Pod collections
    const allPods = rest.length === 1 && rest[0] === 'pods';
    const nsPods = rest.length === 3 && rest[0] === 'namespaces' && rest[2] === 'pods';
    if (allPods || nsPods) {
      const namespace = nsPods ? rest[1] : undefined;
      if (method !== 'GET')
        return sendStatus(res, status(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`));
      const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
      const verb = watch ? 'watch' : 'list';
      if (!isAllowed(user, verb, 'pods')) return sendStatus(res, forbidden(user.name, verb, 'pods', namespace));
      let matches: (o: Json) => boolean;
      try {
        const labels = parseLabelSelector(url.searchParams.get('labelSelector') ?? '');
        const fields = parseFieldSelector(url.searchParams.get('fieldSelector') ?? '');
        matches = (o) =>
          (!namespace || (o.metadata as Json).namespace === namespace) &&
          matchLabels(labels, ((o.metadata as Json).labels ?? {}) as Record<string, string>) &&
          fields(o);
      } catch (e) {
        return sendStatus(res, badRequest((e as Error).message));
      }
      if (watch) return this.watchPods(req, res, url, matches, wantsTable);
      const rv = this.state.resourceVersion;
      const items = this.state.pods(namespace).filter(matches);
      return wantsTable
        ? sendJson(res, 200, table('pods', items, rv), TABLE_CT)
        : sendJson(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: rv }, items });
    }

    // One pod and its subresources
    if (rest[0] === 'namespaces' && rest[2] === 'pods' && rest.length >= 4) {
      const namespace = rest[1];
      const sub = rest[4] ?? '';
      if (sub === 'proxy') return this.proxy(req, res, user, namespace, rest[3], url, rest.slice(5));
      const slot = this.state.slot(namespace, rest[3]);
      const name = rest[3];
      if (sub === '') {
        if (method === 'GET') {
          if (!isAllowed(user, 'get', 'pods')) return sendStatus(res, forbidden(user.name, 'get', 'pods', namespace, name));
          const pod = slot && this.state.podJson(slot);
          if (!pod) return sendStatus(res, notFound(name));
          return wantsTable ? sendJson(res, 200, table('pods', [pod], this.state.resourceVersion), TABLE_CT) : sendJson(res, 200, pod);
        }
        if (method === 'DELETE') return this.deletePod(req, res, user, namespace, name, url);
        return sendStatus(res, status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
      }
      if (sub === 'log' && method === 'GET') return this.logs(req, res, user, namespace, name, url);
      if (sub === 'exec' || sub === 'attach') {
        // A plain request (no Upgrade header): same checks as the upgrade path, then "upgrade required".
        const checked = checkExec(this.state, user, url, namespace, name);
        if ('code' in checked) return sendStatus(res, checked);
        return sendStatus(res, badRequest('Upgrade request required'));
      }
    }
    return sendStatus(res, status(404, 'NotFound', 'the server could not find the requested resource'));
  }

  private async accessReview(req: http.IncomingMessage, res: http.ServerResponse, user: TestUser): Promise<void> {
    const body = await readBody(req);
    let attrs: Record<string, string> = {};
    try {
      attrs = String(req.headers['content-type'] ?? '').includes('protobuf')
        ? decodeAccessReviewProto(body)
        : ((((JSON.parse(body.toString('utf8')) as Json).spec as Json)?.resourceAttributes ?? {}) as Record<string, string>);
    } catch (e) {
      return sendStatus(res, badRequest(`cannot decode SelfSubjectAccessReview: ${(e as Error).message}`));
    }
    const allowed = isAllowed(user, attrs.verb ?? '', attrs.resource ?? '', attrs.subresource ?? '');
    sendJson(res, 201, {
      kind: 'SelfSubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec: { resourceAttributes: attrs },
      status: allowed
        ? { allowed: true, reason: `RBAC: allowed by ClusterRoleBinding "${user.role}" of User "${user.name}"` }
        : { allowed: false },
    });
  }

  private async deletePod(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    user: TestUser,
    namespace: string,
    name: string,
    url: URL,
  ): Promise<void> {
    if (!isAllowed(user, 'delete', 'pods')) return sendStatus(res, forbidden(user.name, 'delete', 'pods', namespace, name));
    const raw = await readBody(req);
    let opts: Json = {};
    try {
      if (raw.length) opts = JSON.parse(raw.toString('utf8')) as Json;
    } catch {
      return sendStatus(res, badRequest('cannot decode DeleteOptions'));
    }
    const slot = this.state.slot(namespace, name);
    if (!slot?.current) return sendStatus(res, notFound(name));
    const wantUid = (opts.preconditions as Json | undefined)?.uid;
    if (wantUid && wantUid !== slot.current.uid) {
      return sendStatus(
        res,
        status(
          409,
          'Conflict',
          `Operation cannot be fulfilled on pods "${name}": Precondition ` +
            `failed: UID in precondition: ${String(wantUid)}, UID in object meta: ${slot.current.uid}`,
          { name, kind: 'pods' },
        ),
      );
    }
    const dryRun = opts.dryRun !== undefined || url.searchParams.has('dryRun');
    if (!dryRun && !slot.current.deletionTimestamp) {
      const grace = Number(opts.gracePeriodSeconds ?? url.searchParams.get('gracePeriodSeconds') ?? 30);
      this.state.deletePod(slot, Number.isFinite(grace) ? grace : 30);
    }
    sendJson(res, 200, this.state.podJson(slot) ?? {});
  }

  private watchPods(req: http.IncomingMessage, res: http.ServerResponse, url: URL, matches: (o: Json) => boolean, asTable: boolean): void {
    const rvParam = url.searchParams.get('resourceVersion') ?? '';
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 1800);
    let initial: { type: string; object: Json }[];
    const streamingList = isStreamingList(url);
    if (rvParam === '' || rvParam === '0' || streamingList) {
      initial = this.state
        .pods()
        .filter(matches)
        .map((object) => ({ type: 'ADDED', object }));
    } else {
      const since = this.state.eventsSince(Number(rvParam));
      if (!since) {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
        res.end(
          JSON.stringify({
            type: 'ERROR',
            object: status(410, 'Expired', `too old resource version: ${rvParam} (${this.state.resourceVersion})`),
          }) + '\n',
        );
        return;
      }
      initial = since.filter((e) => matches(e.object));
    }
    res.writeHead(200, {
      'Content-Type': asTable ? TABLE_CT : 'application/json',
      'Transfer-Encoding': 'chunked',
      'Cache-Control': 'no-cache, private',
    });
    res.flushHeaders();
    const send = (type: string, object: Json) => {
      const o = asTable ? table('pods', [object], String((object.metadata as Json).resourceVersion)) : object;
      res.write(JSON.stringify({ type, object: o }) + '\n');
    };
    for (const e of initial) send(e.type, e.object);
    if (streamingList) res.write(JSON.stringify(initialEventsEnd('Pod', this.state.resourceVersion)) + '\n');
    const unsubscribe = this.state.subscribe((e) => {
      if (matches(e.object)) send(e.type, e.object);
    });
    const timer = setTimeout(() => res.end(), Math.max(1, timeout) * 1000);
    const done = () => {
      clearTimeout(timer);
      unsubscribe();
    };
    res.on('close', done);
    req.on('close', done);
  }

  private staticWatch(req: http.IncomingMessage, res: http.ServerResponse, url: URL, objects: Json[], asTable: boolean): void {
    const rvParam = url.searchParams.get('resourceVersion') ?? '';
    res.writeHead(200, { 'Content-Type': asTable ? TABLE_CT : 'application/json', 'Transfer-Encoding': 'chunked' });
    if (rvParam === '' || rvParam === '0' || isStreamingList(url)) {
      for (const o of objects)
        res.write(JSON.stringify({ type: 'ADDED', object: asTable ? table('namespaces', [o], this.state.resourceVersion) : o }) + '\n');
    }
    if (isStreamingList(url)) res.write(JSON.stringify(initialEventsEnd('Namespace', this.state.resourceVersion)) + '\n');
    const timer = setTimeout(() => res.end(), Math.max(1, Number(url.searchParams.get('timeoutSeconds') ?? 1800)) * 1000);
    req.on('close', () => clearTimeout(timer));
  }

  private logs(req: http.IncomingMessage, res: http.ServerResponse, user: TestUser, namespace: string, name: string, url: URL): void {
    if (!isAllowed(user, 'get', 'pods', 'log')) return sendStatus(res, forbidden(user.name, 'get', 'pods/log', namespace, name));
    const slot = this.state.slot(namespace, name);
    const pod = slot?.current;
    if (!slot || !pod) return sendStatus(res, notFound(name));
    const names = pod.containers.map((c) => c.def.name);
    let containerName = url.searchParams.get('container') ?? '';
    if (!containerName) {
      if (names.length > 1)
        return sendStatus(res, badRequest(`a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]`));
      containerName = names[0];
    }
    const c = pod.container(containerName);
    if (!c) return sendStatus(res, badRequest(`container ${containerName} is not valid for pod ${name}`));
    const previous = url.searchParams.get('previous') === 'true';
    let buffer: LogBuffer | undefined = c.logs;
    if (previous) {
      buffer = c.previousLogs;
      if (!buffer) return sendStatus(res, badRequest(`previous terminated container "${containerName}" in pod "${name}" not found`));
    } else if (c.state.kind === 'waiting') {
      return sendStatus(res, badRequest(`container "${containerName}" in pod "${name}" is waiting to start: ${c.state.reason}`));
    }
    const timestamps = url.searchParams.get('timestamps') === 'true';
    const follow = url.searchParams.get('follow') === 'true' && !previous;
    const tail = url.searchParams.has('tailLines') ? Number(url.searchParams.get('tailLines')) : -1;
    let limit = url.searchParams.has('limitBytes') ? Number(url.searchParams.get('limitBytes')) : Infinity;
    const sinceSeconds = url.searchParams.get('sinceSeconds');
    const sinceTime = url.searchParams.get('sinceTime');
    const since = sinceSeconds ? Date.now() - Number(sinceSeconds) * 1000 : sinceTime ? Date.parse(sinceTime) : -Infinity;
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
    const format = (l: { time: string; text: string }) => `${timestamps ? `${l.time} ` : ''}${l.text}\n`;
    const write = (text: string): boolean => {
      if (limit <= 0) return false;
      const b = Buffer.from(text);
      const cut = b.length > limit ? b.subarray(0, limit) : b;
      limit -= cut.length;
      res.write(cut);
      return limit > 0;
    };
    let lines = buffer.lines.filter((l) => Date.parse(l.time) >= since);
    if (tail >= 0) lines = tail === 0 ? [] : lines.slice(-tail);
    for (const l of lines) if (!write(format(l))) return void res.end();
    if (!follow || buffer.ended) return void res.end();
    const stop = buffer.follow((l) => {
      if (l === null || !write(format(l))) {
        stop();
        res.end();
      }
    });
    res.on('close', () => stop());
  }

  private proxy(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    user: TestUser,
    namespace: string,
    nameport: string,
    url: URL,
    pathParts: string[],
  ): void {
    // {name} | {name}:{port} | {scheme}:{name}:{port}
    const bits = nameport.split(':');
    const name = bits.length === 3 ? bits[1] : bits[0];
    const port = bits.length === 3 ? bits[2] : (bits[1] ?? '');
    const verb =
      ({ GET: 'get', HEAD: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<string, string>)[
        req.method ?? 'GET'
      ] ?? 'get';
    if (!isAllowed(user, verb, 'pods', 'proxy')) return sendStatus(res, forbidden(user.name, verb, 'pods/proxy', namespace, name));
    const slot = this.state.slot(namespace, name);
    if (!slot?.current) return sendStatus(res, notFound(name));
    const hasPort = slot.def.containers.some((c) => c.kind === 'prometheus');
    if (!hasPort || !(port === '' || port === String(PROMETHEUS_PORT) || port === PROMETHEUS_PORT_NAME)) {
      return sendStatus(
        res,
        status(
          503,
          'ServiceUnavailable',
          `error trying to reach service: dial tcp ${slot.podIP}:${port || 80}: connect: connection refused`,
        ),
      );
    }
    const rawPath = (req.url ?? '').split('?')[0];
    const marker = '/proxy';
    const idx = rawPath.indexOf(marker, rawPath.indexOf(`/pods/`));
    const forwardPath = (idx >= 0 ? rawPath.slice(idx + marker.length) : '/' + pathParts.join('/')) || '/';
    const headers = { ...req.headers };
    delete headers.authorization;
    delete headers.host;
    headers.host = `${slot.podIP}:${PROMETHEUS_PORT}`;
    const upstream = http.request(
      { host: '127.0.0.1', port: slot.port, method: req.method, path: forwardPath + url.search, headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent)
        sendStatus(
          res,
          status(
            503,
            'ServiceUnavailable',
            `error trying to reach service: dial ` +
              `tcp ${slot.podIP}:${PROMETHEUS_PORT}: ${err.message.includes('ECONNREFUSED') ? 'connect: connection refused' : err.message}`,
          ),
        );
      else res.destroy();
    });
    req.pipe(upstream);
  }
}

// ---------------------------------------------------------------------------------------------
// Protobuf SelfSubjectAccessReview (what `kubectl auth can-i` sends)

function readVarint(b: Uint8Array, pos: { i: number }): number {
  let result = 0;
  let shift = 0;
  for (;;) {
    if (pos.i >= b.length) throw new Error('truncated varint');
    const byte = b[pos.i++];
    result += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return result;
    shift += 7;
  }
}

/** Length-delimited fields of one protobuf message, by field number (last one wins). */
function protoFields(b: Uint8Array): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  const pos = { i: 0 };
  while (pos.i < b.length) {
    const tag = readVarint(b, pos);
    const wire = tag & 7;
    const field = Math.floor(tag / 8);
    if (wire === 2) {
      const len = readVarint(b, pos);
      out.set(field, b.subarray(pos.i, pos.i + len));
      pos.i += len;
    } else if (wire === 0) readVarint(b, pos);
    else if (wire === 1) pos.i += 8;
    else if (wire === 5) pos.i += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

export function decodeAccessReviewProto(body: Buffer): Record<string, string> {
  const magic = Buffer.from([0x6b, 0x38, 0x73, 0x00]);
  if (!body.subarray(0, 4).equals(magic)) throw new Error('missing k8s protobuf magic');
  const unknown = protoFields(body.subarray(4));
  const review = protoFields(unknown.get(2) ?? new Uint8Array());
  const spec = protoFields(review.get(2) ?? new Uint8Array());
  const attrs = protoFields(spec.get(1) ?? new Uint8Array());
  const names = ['', 'namespace', 'verb', 'group', 'version', 'resource', 'subresource', 'name'];
  const out: Record<string, string> = {};
  for (const [n, v] of attrs) if (names[n]) out[names[n]] = Buffer.from(v).toString('utf8');
  return out;
}
