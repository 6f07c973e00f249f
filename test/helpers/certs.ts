import 'reflect-metadata';

import { webcrypto } from 'node:crypto';

import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

type KeyPair = webcrypto.CryptoKeyPair;

const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface TestCa {
  certPem: string;
  keys: KeyPair;
  cert: x509.X509Certificate;
}

export interface TestLeaf {
  certPem: string;
  keyPem: string;
  /** Leaf then CA: what a server presents. */
  chainPem: string;
}

function pemKey(pkcs8: ArrayBuffer): string {
  const b64 = Buffer.from(pkcs8).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex').replace(/^./, '1');
}

const day = 24 * 60 * 60 * 1000;

/** A throwaway certificate authority, made fresh by each test run. */
export async function createCa(name = 'quicbridge test CA'): Promise<TestCa> {
  const keys: KeyPair = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    notBefore: new Date(Date.now() - day),
    notAfter: new Date(Date.now() + 30 * day),
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keys, cert };
}

/** A leaf certificate for `names` (DNS names and IP addresses), signed by `ca`. */
export async function issueLeaf(ca: TestCa, names: string[] = ['localhost', '127.0.0.1', '::1']): Promise<TestLeaf> {
  const keys: KeyPair = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const sans = names.map((n) => (/^[\d.]+$|:/.test(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n }));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${names[0] ?? 'leaf'}`,
    issuer: ca.cert.subject,
    notBefore: new Date(Date.now() - day),
    notAfter: new Date(Date.now() + 30 * day),
    signingKey: ca.keys.privateKey,
    publicKey: keys.publicKey,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(sans),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  const certPem = cert.toString('pem') + '\n';
  const keyPem = pemKey(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem, keyPem, chainPem: certPem + ca.certPem };
}

/** A CA and a localhost server certificate from it. */
export async function createPki(): Promise<{ ca: TestCa; server: TestLeaf }> {
  const ca = await createCa();
  return { ca, server: await issueLeaf(ca) };
}

/** A self-signed server certificate (no CA behind it) for `names`. */
export async function createSelfSigned(names: string[] = ['localhost', '127.0.0.1']): Promise<TestLeaf> {
  const keys: KeyPair = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const sans = names.map((n) => (/^[\d.]+$|:/.test(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n }));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${names[0] ?? 'self-signed'}`,
    notBefore: new Date(Date.now() - day),
    notAfter: new Date(Date.now() + 30 * day),
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.SubjectAlternativeNameExtension(sans),
    ],
  });
  const certPem = cert.toString('pem') + '\n';
  const keyPem = pemKey(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem, keyPem, chainPem: certPem };
}
