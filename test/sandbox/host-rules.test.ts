import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DomainRules, METADATA_ADDRESSES, classifyAddress } from '../../src/sandbox/index.js';

test('classifyAddress: every SSRF-relevant range, IPv4 embedded in IPv6, metadata endpoints', () => {
  const cases: Array<[string, string]> = [
    ['8.8.8.8', 'public'],
    ['93.184.216.34', 'public'],
    ['2606:4700:4700::1111', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['100.64.0.1', 'cgnat'],
    ['fd12:3456::1', 'unique-local'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['::ffff:127.0.0.1', 'ipv4-mapped'],
    ['::ffff:8.8.8.8', 'ipv4-mapped'],
    ['::127.0.0.1', 'ipv4-mapped'],
    ['64:ff9b::7f00:1', 'ipv4-embedded'],
    ['2002:7f00:1::1', 'ipv4-embedded'],
    ['192.0.2.1', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['not-an-ip', 'invalid'],
    ['0x7f000001', 'invalid'],
    ['127.1', 'invalid'],
  ];
  for (const [a, want] of cases) assert.equal(classifyAddress(a), want, a);
  for (const m of METADATA_ADDRESSES) assert.equal(classifyAddress(m), 'metadata', m);
  assert.equal(classifyAddress('[::1]'), 'loopback');
  assert.equal(classifyAddress('fe80::1%eth0'), 'link-local');
});

test('domain rules follow the seed semantics: "*" default-denies, a specific block beats an allow', () => {
  const seed = new DomainRules(['api.openai.com', 'api.anthropic.com'], ['*']);
  assert.equal(seed.decide('api.openai.com').ok, true);
  assert.equal(seed.decide('API.OpenAI.com.').ok, true, 'case and trailing dot are canonical');
  assert.equal(seed.decide('evil.com').ok, false);
  assert.equal(seed.decide('openai.com').ok, false);
  assert.equal(seed.decide('x.api.openai.com').ok, false, 'an exact entry does not cover subdomains');

  const wild = new DomainRules(['*.example.com'], ['evil.example.com']);
  assert.equal(wild.decide('a.example.com').ok, true);
  assert.equal(wild.decide('a.b.example.com').ok, true);
  assert.equal(wild.decide('example.com').ok, false, '*.example.com does not include the apex');
  assert.equal(wild.decide('evil.example.com').ok, false);
  assert.match((wild.decide('evil.example.com') as { reason: string }).reason, /evil\.example\.com/);
  assert.equal(wild.decide('notexample.com').ok, false);
  assert.equal(wild.decide('example.com.evil.net').ok, false);

  const blockWildcard = new DomainRules(['*.example.com'], ['*.internal.example.com']);
  assert.equal(blockWildcard.decide('db.internal.example.com').ok, false);

  const blockList = new DomainRules([], ['evil.com']);
  assert.equal(blockList.decide('fine.org').ok, true, 'empty allow list + block list = block list');
  assert.equal(blockList.decide('evil.com').ok, false);
  assert.equal(new DomainRules([], []).decide('anything.org').ok, false, 'nothing configured = deny');
  assert.equal(new DomainRules(['a.org'], []).decide('b.org').ok, false, 'an allow list is exhaustive');
  assert.equal(new DomainRules(['*'], ['bad.org']).decide('bad.org').ok, false);
  assert.equal(new DomainRules(['*'], ['bad.org']).decide('good.org').ok, true);

  const idn = new DomainRules(['bücher.example'], ['*']);
  assert.equal(idn.decide('xn--bcher-kva.example').ok, true, 'IDN entries are punycoded');
  const ips = new DomainRules(['127.1', '::1'], ['*']);
  assert.equal(ips.decide('127.0.0.1').ok, true, 'IP entries are canonicalised like URL hosts');
  assert.equal(ips.decide('[::1]').ok, true);
});
