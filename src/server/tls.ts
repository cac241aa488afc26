/** TLS material: given cert/key files, or a self-signed certificate kept in the state dir. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import type { GatewayConfig } from '../config/index.js';
import { ClawguardError } from '../errors/index.js';
import { writeSecretFile } from '../store/index.js';

export async function loadTls(g: GatewayConfig, stateDir: string, flags: { cert?: string; key?: string }): Promise<{ key: Buffer; cert: Buffer } | undefined> {
  const certFile = flags.cert ?? g.tls?.cert;
  const keyFile = flags.key ?? g.tls?.key;
  if (certFile || keyFile) {
    if (!certFile || !keyFile) throw new ClawguardError('config_invalid', 'TLS needs both a certificate and a key (--tls-cert and --tls-key, or gateway.tls.cert and gateway.tls.key)');
    try {
      return { cert: readFileSync(certFile), key: readFileSync(keyFile) };
    } catch (e) {
      throw new ClawguardError('config_invalid', `cannot read TLS material: ${(e as Error).message}`);
    }
  }
  if (!g.tls?.auto) return undefined;
  const cert = join(stateDir, 'tls-cert.pem');
  const key = join(stateDir, 'tls-key.pem');
  if (!existsSync(cert) || !existsSync(key)) {
    const pems = await generate([{ name: 'commonName', value: 'clawguard.localhost' }], {
      keySize: 2048,
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] }],
    } as never);
    writeSecretFile(key, pems.private);
    writeSecretFile(cert, pems.cert);
  }
  return { cert: readFileSync(cert), key: readFileSync(key) };
}
