/**
 * LOOK-ALIKE of HashiCorp Vault (no Vault can run on this machine): a small HTTP server with the
 * KV version 2 routes and error shapes of Vault's published API reference — read
 * GET /v1/:mount/data/:path[?version=N], write POST|PUT /v1/:mount/data/:path with options.cas,
 * AppRole login POST /v1/auth/approle/login, tokens in X-Vault-Token, namespaces in
 * X-Vault-Namespace, errors as {"errors":[...]} (403 permission denied, 404 with an empty list,
 * 400 check-and-set mismatch, 503 sealed). Test tree only.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';

interface Version {
  data: Record<string, unknown> | null;
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}

export interface VaultLookalike {
  url: string;
  /** mount → path → versions (index 0 is version 1). */
  kv: Map<string, Map<string, Version[]>>;
  tokens: Set<string>;
  approle: { roleId: string; secretId: string; leaseSeconds: number };
  namespace: string | undefined;
  sealed: boolean;
  requests: Array<{ method: string; path: string; headers: IncomingMessage['headers']; body: any }>;
  put(mount: string, path: string, data: Record<string, unknown>): number;
  close(): Promise<void>;
}

export async function startVaultLookalike(opts: { token?: string; namespace?: string; mounts?: string[] } = {}): Promise<VaultLookalike> {
  const v: VaultLookalike = {
    url: '',
    kv: new Map((opts.mounts ?? ['secret']).map((m) => [m, new Map()])),
    tokens: new Set(opts.token ? [opts.token] : []),
    approle: { roleId: 'role-1234', secretId: 'secret-id-5678', leaseSeconds: 3600 },
    namespace: opts.namespace,
    sealed: false,
    requests: [],
    put(mount, path, data) {
      const m = v.kv.get(mount)!;
      const list = m.get(path) ?? [];
      list.push({ data, created_time: new Date().toISOString(), deletion_time: '', destroyed: false });
      m.set(path, list);
      return list.length;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
  const send = (res: import('node:http').ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const envelope = (data: unknown, extra: Record<string, unknown> = {}) => ({ request_id: randomBytes(8).toString('hex'), lease_id: '', renewable: false, lease_duration: 0, data, wrap_info: null, warnings: null, auth: null, ...extra });

  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      let body: any = null;
      try {
        body = raw ? JSON.parse(raw) : null;
      } catch {
        return send(res, 400, { errors: ['failed to parse JSON input'] });
      }
      v.requests.push({ method: req.method ?? '', path: url.pathname + url.search, headers: req.headers, body });
      if (v.sealed) return send(res, 503, { errors: ['Vault is sealed'] });
      if (!url.pathname.startsWith('/v1/')) return send(res, 404, { errors: [] });
      const rest = url.pathname.slice(4);
      // Namespaces: a request in another namespace (or none) finds neither the role nor the token.
      const nsOk = (req.headers['x-vault-namespace'] ?? undefined) === v.namespace;
      if (rest === 'auth/approle/login' && req.method === 'POST') {
        if (!nsOk || body?.role_id !== v.approle.roleId || body?.secret_id !== v.approle.secretId) return send(res, 400, { errors: ['invalid role or secret ID'] });
        const token = `hvs.${randomBytes(12).toString('base64url')}`;
        v.tokens.add(token);
        return send(res, 200, envelope(null, { auth: { client_token: token, accessor: randomBytes(6).toString('hex'), policies: ['default', 'clawguard'], token_policies: ['default', 'clawguard'], metadata: { role_name: 'clawguard' }, lease_duration: v.approle.leaseSeconds, renewable: true, entity_id: '', token_type: 'service', orphan: true } }));
      }
      const token = req.headers['x-vault-token'];
      if (!nsOk || typeof token !== 'string' || !v.tokens.has(token)) return send(res, 403, { errors: ['permission denied'] });
      const m = /^([^/]+)\/data\/(.+)$/.exec(rest);
      const mount = m ? v.kv.get(decodeURIComponent(m[1]!)) : undefined;
      if (!m || !mount) return send(res, 404, { errors: [`no handler for route "${rest}". route entry not found.`] });
      const path = m[2]!.split('/').map(decodeURIComponent).join('/');
      const versions = mount.get(path);
      if (req.method === 'GET') {
        if (!versions?.length) return send(res, 404, { errors: [] });
        const want = url.searchParams.get('version');
        const n = want && want !== '0' ? Number(want) : versions.length;
        const ver = versions[n - 1];
        if (!ver) return send(res, 404, { errors: [] });
        const data = { data: ver.deletion_time || ver.destroyed ? null : ver.data, metadata: { created_time: ver.created_time, custom_metadata: null, deletion_time: ver.deletion_time, destroyed: ver.destroyed, version: n } };
        return send(res, ver.deletion_time || ver.destroyed ? 404 : 200, envelope(data));
      }
      if (req.method === 'POST' || req.method === 'PUT') {
        if (!body || typeof body.data !== 'object' || body.data === null) return send(res, 400, { errors: ['no data provided'] });
        const current = versions?.length ?? 0;
        const cas = body.options?.cas;
        if (cas !== undefined && cas !== current) return send(res, 400, { errors: ['check-and-set parameter did not match the current version'] });
        const n = v.put(decodeURIComponent(m[1]!), path, body.data);
        const ver = mount.get(path)![n - 1]!;
        return send(res, 200, envelope({ created_time: ver.created_time, custom_metadata: null, deletion_time: '', destroyed: false, version: n }));
      }
      return send(res, 405, { errors: [] });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  v.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return v;
}
