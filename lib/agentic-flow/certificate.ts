/**
 * A self-signed certificate, made with node:crypto (an ECDSA P-256 key and
 * its signature) and a small DER encoder for the X.509 structure around
 * them: no runtime dependency. Only ever made when asked for
 * (`generateCertificate: true`, or calling this function).
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import net from 'node:net';

import { invalidArg } from '../errors';

/** One DER element: tag, length, contents. */
function der(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  const n = body.length;
  let length: Buffer;
  if (n < 0x80) length = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
    length = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), length, body]);
}

const sequence = (...items: Buffer[]) => der(0x30, ...items);
const set = (...items: Buffer[]) => der(0x31, ...items);
const octetString = (bytes: Buffer) => der(0x04, bytes);
const bitString = (bytes: Buffer) => der(0x03, Buffer.from([0]), bytes);
const utf8String = (text: string) => der(0x0c, Buffer.from(text, 'utf8'));
const explicit = (n: number, item: Buffer) => der(0xa0 + n, item);
const boolTrue = der(0x01, Buffer.from([0xff]));

function integer(bytes: Buffer): Buffer {
  // Positive: a leading 1 bit needs a zero byte in front.
  return der(0x02, (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * a + b];
  for (const arc of rest) {
    const groups: number[] = [];
    for (let v = arc; ; v = Math.floor(v / 128)) {
      groups.unshift(v % 128);
      if (v < 128) break;
    }
    bytes.push(...groups.map((g, i) => (i < groups.length - 1 ? g | 0x80 : g)));
  }
  return der(0x06, Buffer.from(bytes));
}

function time(date: Date): Buffer {
  const iso = date.toISOString(); // 2025-01-02T03:04:05.678Z
  const year = date.getUTCFullYear();
  const digits = iso.slice(0, 19).replace(/[-T:]/g, ''); // 20250102030405
  // RFC 5280: UTCTime through 2049, GeneralizedTime after.
  return year < 2050 ? der(0x17, Buffer.from(`${digits.slice(2)}Z`)) : der(0x18, Buffer.from(`${digits}Z`));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [boolTrue] : []), octetString(value));
}

function subjectAltNames(names: string[]): Buffer {
  return sequence(
    ...names.map((name) => {
      const family = net.isIP(name);
      if (family === 4) return der(0x87, Buffer.from(name.split('.').map(Number)));
      if (family === 6) return der(0x87, ipv6Bytes(name));
      return der(0x82, Buffer.from(name, 'ascii'));
    }),
  );
}

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail] = address.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return Buffer.from(all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}

const ECDSA_WITH_SHA256 = sequence(oid('1.2.840.10045.4.3.2'));
const DAY_MS = 24 * 60 * 60 * 1000;

export interface SelfSignedCertificate {
  /** The certificate, PEM: what the server presents and what clients trust (`caPath`). */
  cert: string;
  /** Its private key, PKCS#8 PEM. */
  key: string;
}

/**
 * A self-signed certificate for `names` (DNS names and IP addresses, the
 * first one also its common name), valid from a day ago for `days` days,
 * with an ECDSA P-256 key. Clients verify it by trusting the certificate
 * itself (as their CA).
 */
export function generateSelfSignedCertificate(names: string[] = ['localhost', '127.0.0.1', '::1'], days = 365): SelfSignedCertificate {
  if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === 'string' && n.length > 0 && /^[\x21-\x7e]+$/.test(n))) {
    throw invalidArg('names must be a non-empty array of host names and IP addresses');
  }
  if (!Number.isInteger(days) || days < 1 || days > 3650) throw invalidArg(`days must be an integer from 1 to 3650, got ${String(days)}`);
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const name = sequence(set(sequence(oid('2.5.4.3'), utf8String(names[0]!))));
  const now = Date.now();
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive and not zero-led
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    ECDSA_WITH_SHA256,
    name,
    sequence(time(new Date(now - DAY_MS)), time(new Date(now + days * DAY_MS))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(
      3,
      sequence(
        extension('2.5.29.19', true, sequence()), // basicConstraints: not a CA
        extension('2.5.29.15', true, bitString(Buffer.from([0x80]))), // keyUsage: digitalSignature
        extension('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2'))), // serverAuth, clientAuth
        extension('2.5.29.17', false, subjectAltNames(names)),
      ),
    ),
  );
  const signature = sign('sha256', tbs, privateKey); // DER ECDSA-Sig-Value, as X.509 wants
  const certificate = sequence(tbs, ECDSA_WITH_SHA256, bitString(signature));
  const body = certificate.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  const cert = `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
  // Parse it back: a malformed encoding fails here, not in a peer's handshake.
  const parsed = new X509Certificate(cert);
  if (!parsed.verify(parsed.publicKey) || !parsed.checkPrivateKey(createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' })))) {
    throw new Error('generated certificate does not verify');
  }
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
