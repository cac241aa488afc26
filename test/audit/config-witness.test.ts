/** The `audit` config section: witnesses validated at the edge, with the path of the bad key. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/index.js';

const problems = (audit: unknown): string => {
  try {
    parseConfig({ audit }, '/etc/cg/clawguard.json');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
  }
  return '';
};

test('witnesses normalise: directories against the config file, URLs as given, syslog targets parsed; publishing every second by default', () => {
  const c = parseConfig({ audit: { witness: [{ dir: 'w' }, { url: 'https://witness.example/v1/logs/gw-1' }, { syslog: true }, { syslog: { udp: '[::1]:5514', tag: 'cg' } }, { syslog: { socket: 'log.sock' } }] } }, '/etc/cg/clawguard.json');
  assert.deepEqual(c.audit.witness, [
    { kind: 'dir', dir: join('/etc/cg', 'w') },
    { kind: 'url', url: 'https://witness.example/v1/logs/gw-1' },
    { kind: 'syslog' },
    { kind: 'syslog', udp: { host: '::1', port: 5514 }, tag: 'cg' },
    { kind: 'syslog', socket: '/etc/cg/log.sock' },
  ]);
  assert.equal(c.audit.witnessSeconds, 1);
  assert.deepEqual(parseConfig({}).audit.witness, []);
});

test('a bad witness is a config error naming it', () => {
  assert.match(problems({ witness: [{ dir: 'a', url: 'http://x' }] }), /audit\.witness\[0\].*exactly one of/);
  assert.match(problems({ witness: [{}] }), /audit\.witness\[0\].*exactly one of/);
  assert.match(problems({ witness: [{ url: 'ftp://x/y' }] }), /audit\.witness\[0\]\.url.*http/);
  assert.match(problems({ witness: [{ url: 'not a url' }] }), /audit\.witness\[0\]\.url/);
  assert.match(problems({ witness: [{ syslog: { udp: 'host-without-port' } }] }), /audit\.witness\[0\]\.syslog.*HOST:PORT/);
  assert.match(problems({ witness: [{ syslog: { udp: 'a:1', socket: '/dev/log' } }] }), /not both/);
  assert.match(problems({ witness: [{ syslog: false }] }), /audit\.witness\[0\]\.syslog/);
  assert.match(problems({ witness: [{ dirr: '/x' }] }), /dirr/);
  assert.match(problems({ witness: { dir: '/x' } }), /audit\.witness/);
  assert.match(problems({ witnessSeconds: 0 }), /audit\.witnessSeconds: expected a number of seconds from 0\.1 to 3600/);
  assert.match(problems({ witnessSeconds: '1s' }), /audit\.witnessSeconds/);
});
