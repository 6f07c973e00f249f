// agentic-flow's QuicConfig and environment variables: errors name the
// field, 0 is a value, missing certificate files are typed errors, and every
// variable lands on a real setting.
import test from 'ava';

import { createQuicMessage, loadQuicConfig, QUIC_ENVIRONMENT_VARIABLES, QuicClient, QuicServer } from '../../lib/agentic-flow/index';
import { resolveQuicConfig, transportOf } from '../../lib/agentic-flow/config';
import type { QuicError } from '../../lib/index';
import { serverBackend } from '../helpers/backend';
import { pkiFiles } from './helpers';

/** Runs `body` with these environment variables set, then puts the environment back. */
async function withEnv<T>(vars: Record<string, string>, body: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  Object.assign(process.env, vars);
  try {
    return await body();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

// Serial, and before the concurrent tests (ava runs serial ones first): they change process.env.
test.serial('the environment variables reach real settings: a server and a client configured by nothing else talk', async (t) => {
  const pki = await pkiFiles();
  const server = await withEnv({ QUIC_HOST: '127.0.0.1', QUIC_PORT: '0', QUIC_CERT_PATH: pki.certPath, QUIC_KEY_PATH: pki.keyPath }, async () => {
    const s = new QuicServer({ backend: serverBackend() });
    await s.initialize();
    await s.listen();
    return s;
  });
  try {
    t.is(server.address.address, '127.0.0.1');
    const got: string[] = [];
    server.on('message', (m) => void got.push(m.id));
    const env = { QUIC_SERVER_HOST: '127.0.0.1', QUIC_SERVER_PORT: String(server.address.port), QUIC_VERIFY_PEER: 'false', QUIC_MAX_CONNECTIONS: '1' };
    const client = await withEnv(env, async () => {
      const c = new QuicClient();
      await c.initialize();
      return c;
    });
    const connection = await client.connect(); // QUIC_SERVER_HOST/PORT; no CA: QUIC_VERIFY_PEER=false is what lets it in
    await client.sendMessage(connection.id, createQuicMessage('env', 'task', Buffer.from('configured by the environment')));
    t.deepEqual(got, ['env']);
    const limit = await t.throwsAsync<QuicError>(client.connect('localhost', server.address.port));
    t.is(limit?.code, 'ERR_QUIC_LIMIT', 'QUIC_MAX_CONNECTIONS=1');
    await client.shutdown();

    const strict = new QuicClient({ serverHost: '127.0.0.1', serverPort: server.address.port });
    await strict.initialize();
    t.is((await t.throwsAsync<QuicError>(strict.connect()))?.code, 'ERR_QUIC_TLS', 'verifyPeer defaults to true: the test CA is not a system CA');
    await strict.shutdown();
  } finally {
    await server.stop();
  }
});

test.serial('AGENTIC_FLOW_ENABLE_QUIC=false: initialize() refuses, naming the variable', async (t) => {
  const pki = await pkiFiles();
  await withEnv({ AGENTIC_FLOW_ENABLE_QUIC: 'false' }, async () => {
    const client = new QuicClient({ caPath: pki.caPath });
    const error = await t.throwsAsync<QuicError>(client.initialize());
    t.is(error?.code, 'ERR_QUIC_INVALID_STATE');
    t.regex(error?.message ?? '', /AGENTIC_FLOW_ENABLE_QUIC=false/);
  });
});

test('every variable maps onto its field; explicit config wins over the environment', (t) => {
  const env = {
    AGENTIC_FLOW_ENABLE_QUIC: '1',
    QUIC_PORT: '4500',
    QUIC_HOST: '10.0.0.1',
    QUIC_SERVER_HOST: 'quic.example',
    QUIC_SERVER_PORT: '4501',
    QUIC_CERT_PATH: '/etc/q/cert.pem',
    QUIC_KEY_PATH: '/etc/q/key.pem',
    QUIC_MAX_CONNECTIONS: '7',
    QUIC_MAX_STREAMS: '33',
    QUIC_VERIFY_PEER: 'false',
  };
  const config = resolveQuicConfig({}, 'client', env);
  t.like(config, {
    enabled: true,
    port: 4500,
    host: '10.0.0.1',
    serverHost: 'quic.example',
    serverPort: 4501,
    certPath: '/etc/q/cert.pem',
    keyPath: '/etc/q/key.pem',
    maxConnections: 7,
    maxConcurrentStreams: 33,
    verifyPeer: false,
  });
  t.like(transportOf(config), { maxConcurrentBidiStreams: 33, maxConcurrentUniStreams: 33 });
  for (const name of Object.keys(env)) t.true(QUIC_ENVIRONMENT_VARIABLES.includes(name), name);
  t.like(resolveQuicConfig({ port: 9, maxConnections: 2 }, 'client', env), { port: 9, maxConnections: 2 });
  const bad = t.throws<QuicError>(() => resolveQuicConfig({}, 'client', { QUIC_MAX_STREAMS: 'lots' }));
  t.is(bad?.code, 'ERR_QUIC_INVALID_ARG');
  t.regex(bad?.message ?? '', /^QUIC_MAX_STREAMS must be a decimal integer/);
  t.regex(t.throws<QuicError>(() => resolveQuicConfig({}, 'client', { QUIC_VERIFY_PEER: 'maybe' }))?.message ?? '', /^QUIC_VERIFY_PEER/);
  t.regex(t.throws<QuicError>(() => resolveQuicConfig({}, 'server', { QUIC_PORT: '70000' }))?.message ?? '', /^QUIC_PORT \(environment\) must be an integer from 0 to 65535/);
});

test('validation errors are ERR_QUIC_INVALID_ARG and name the field and its range', (t) => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ maxDatagramSize: 1199 }, /^maxDatagramSize must be an integer from 1200 to 65527/],
    [{ maxDatagramSize: 65528 }, /^maxDatagramSize must be an integer from 1200 to 65527/],
    [{ maxDatagramSize: 1500.5 }, /^maxDatagramSize/],
    [{ port: 65536 }, /^port must be an integer from 0 to 65535/],
    [{ serverPort: 0 }, /^serverPort must be an integer from 1 to 65535/],
    [{ maxConnections: 0 }, /^maxConnections/],
    [{ connectionTimeout: -1 }, /^connectionTimeout/],
    [{ initialCongestionWindow: 0 }, /^initialCongestionWindow/],
    [{ verifyPeer: 'yes' }, /^verifyPeer must be a boolean/],
    [{ host: '' }, /^host must be a non-empty string/],
    [{ enableEarlyData: 1 }, /^enableEarlyData/],
    [{ maxDatagramsize: 1200 }, /no field maxDatagramsize/],
  ];
  for (const [config, message] of cases) {
    const error = t.throws<QuicError>(() => new QuicClient(config), undefined, JSON.stringify(config));
    t.is(error?.code, 'ERR_QUIC_INVALID_ARG');
    t.regex(error?.message ?? '', message);
  }
  t.like(loadQuicConfig({ maxDatagramSize: 1200 }), { maxDatagramSize: 1200 });
  t.like(loadQuicConfig({ maxDatagramSize: 65527 }), { maxDatagramSize: 65527 });
});

test('0 is a value, not "use the default"', (t) => {
  const config = resolveQuicConfig({ port: 0, idleTimeout: 0, streamTimeout: 0, connectionTimeout: 0, maxConcurrentStreams: 0 }, 'server', {});
  t.like(config, { port: 0, idleTimeout: 0, streamTimeout: 0, connectionTimeout: 0, maxConcurrentStreams: 0 });
  t.like(transportOf(config), { idleTimeoutMs: 0, maxConcurrentBidiStreams: 0, maxConcurrentUniStreams: 0 });
  t.like(resolveQuicConfig({}, 'server', { QUIC_PORT: '0', QUIC_MAX_STREAMS: '0' }), { port: 0, maxConcurrentStreams: 0 });
  t.like(resolveQuicConfig({}, 'server', {}), { port: 4433, idleTimeout: 120_000, maxConcurrentStreams: 100 }, 'the defaults, for contrast');
});

test('a missing certificate or key file is a typed error naming the field and the path; nothing is generated', async (t) => {
  const pki = await pkiFiles();
  const missing = `${pki.dir}/no-such-cert.pem`;
  const noCert = new QuicServer({ host: '127.0.0.1', port: 0, certPath: missing, keyPath: pki.keyPath });
  const certError = await t.throwsAsync<QuicError>(noCert.initialize());
  t.is(certError?.code, 'ERR_QUIC_INVALID_ARG');
  t.regex(certError?.message ?? '', /^certPath: .*no-such-cert\.pem does not exist/);
  t.throws(() => noCert.certificatePem, { code: 'ERR_QUIC_INVALID_STATE' } as never);
  const noKey = new QuicServer({ host: '127.0.0.1', port: 0, certPath: pki.certPath, keyPath: `${pki.dir}/no-such-key.pem` });
  t.regex((await t.throwsAsync<QuicError>(noKey.initialize()))?.message ?? '', /^keyPath: .*no-such-key\.pem does not exist/);
  const defaults = new QuicServer({ host: '127.0.0.1', port: 0 });
  t.regex((await t.throwsAsync<QuicError>(defaults.initialize()))?.message ?? '', /^certPath: \.\/certs\/cert\.pem does not exist.*generateCertificate: true/);
  const both = new QuicServer({ host: '127.0.0.1', port: 0, certPath: pki.certPath, generateCertificate: true });
  t.regex((await t.throwsAsync<QuicError>(both.initialize()))?.message ?? '', /either generate a certificate or read one/);
  const noCa = new QuicClient({ caPath: missing });
  t.regex((await t.throwsAsync<QuicError>(noCa.initialize()))?.message ?? '', /^caPath: /);
});

test('generateCertificate: true is the explicit way to a self-signed certificate, which clients can then trust', async (t) => {
  const server = new QuicServer({ host: '127.0.0.1', port: 0, generateCertificate: true, backend: serverBackend() });
  await server.initialize();
  await server.listen();
  try {
    const got: string[] = [];
    server.on('message', (m) => void got.push(m.id));
    const pki = await pkiFiles();
    const fs = await import('node:fs');
    fs.writeFileSync(pki.caPath, server.certificatePem);
    const client = new QuicClient({ serverHost: '127.0.0.1', serverPort: server.address.port, caPath: pki.caPath });
    await client.initialize();
    const { id } = await client.connect();
    await client.sendMessage(id, createQuicMessage('g', 'task', Buffer.from('trusted')));
    t.deepEqual(got, ['g']);
    await client.shutdown();
  } finally {
    await server.stop();
  }
});
