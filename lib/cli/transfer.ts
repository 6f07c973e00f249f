import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

import { connect } from '../quic-endpoint';
import { listen } from '../server';
import type { QuicStream } from '../stream';
import { backendOf, handshakeSignal, hostPort, listening, parse, portOf, serverCertificate, serverCertOptions, trustOf, trustOptions, untilStopped } from './common';
import { CliFailure, ExitCode, UsageError } from './exit-codes';
import { Progress } from './progress';

/** File transfer: the sender opens a stream, writes a JSON header line and the bytes; the receiver answers with the SHA-256 it computed. */
export const FILE_ALPN = 'quicbridge-file/1';
const MAX_HEADER_BYTES = 4096;

export const sendHelp = `usage: quicbridge send FILE HOST:PORT [options]

Sends FILE to a \`quicbridge recv\`, with a progress bar; at the end the
receiver's SHA-256 of what arrived is compared with the file's.

options:
  --timeout S         give up on the handshake after S seconds (default 10)
  --ca FILE | --fingerprint SHA256 | --insecure   how to trust the receiver
  --servername NAME   name the certificate must carry (default: HOST)
  --backend B         native or wasm
exit status: 0 sent and verified; 3 TLS; 4 unreachable; 6 SHA-256 mismatch.`;

export const recvHelp = `usage: quicbridge recv [options]

Receives files from \`quicbridge send\` into --out, checking each one's
SHA-256, and prints what arrived.

options:
  --out DIR        where files go (default: the current directory)
  --once           exit after the first file (status 0 if it arrived intact, 6 if not)
  --address IP     address to bind (default 127.0.0.1)
  --port N         UDP port (default 4434; 0 picks one)
  --cert F --key F certificate and key; without them a self-signed one is
                   generated and its fingerprint printed
  --cert-out FILE  also write the generated certificate there
  --json           print the listening address and each file as JSON lines
  --backend B      native or wasm`;

async function readHeader(stream: QuicStream): Promise<{ header: { name: string; size: number }; rest: Buffer }> {
  let buffered = Buffer.alloc(0);
  for (;;) {
    const newline = buffered.indexOf(0x0a);
    if (newline >= 0) {
      const header = JSON.parse(buffered.subarray(0, newline).toString('utf8')) as { name?: unknown; size?: unknown };
      if (typeof header.name !== 'string' || typeof header.size !== 'number' || !Number.isSafeInteger(header.size) || header.size < 0) {
        throw new Error('malformed transfer header');
      }
      return { header: { name: header.name, size: header.size }, rest: buffered.subarray(newline + 1) };
    }
    if (buffered.length > MAX_HEADER_BYTES) throw new Error('transfer header too long');
    const chunk = (await new Promise<Buffer | null>((resolve, reject) => {
      const onReadable = () => {
        cleanup();
        resolve(stream.read() as Buffer | null);
      };
      const onEnd = () => {
        cleanup();
        resolve(null);
      };
      const cleanup = () => {
        stream.off('readable', onReadable);
        stream.off('end', onEnd);
        stream.off('error', reject);
      };
      stream.once('readable', onReadable);
      stream.once('end', onEnd);
      stream.once('error', reject);
    }));
    if (chunk === null) {
      if (stream.readableEnded) throw new Error('the sender ended before the header');
      continue;
    }
    buffered = Buffer.concat([buffered, chunk]);
  }
}

export async function recv(args: string[]): Promise<number> {
  const { values } = parse(args, { ...serverCertOptions, out: { type: 'string' }, once: { type: 'boolean' } }, 0);
  if (values.help) {
    console.log(recvHelp);
    return ExitCode.ok;
  }
  const backend = backendOf(values);
  const out = path.resolve(typeof values.out === 'string' ? values.out : '.');
  if (!fs.statSync(out, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--out ${out} is not a directory`);
  const { cert, key, fingerprint256 } = serverCertificate(values, backend);
  const json = values.json === true;
  let finish!: (code: number) => void;
  const firstFile = new Promise<number>((resolve) => (finish = resolve));

  const server = await listen(
    { address: typeof values.address === 'string' ? values.address : '127.0.0.1', port: portOf(values.port, 4434), cert, key, alpn: FILE_ALPN, backend },
    async (connection) => {
      for await (const stream of connection.streams()) {
        const code = await receiveOne(stream, out, json).catch((error: unknown) => {
          process.stderr.write(`quicbridge recv: ${(error as Error).message}\n`);
          return ExitCode.integrity;
        });
        if (values.once) {
          // The sender closes once it has our checksum: closing first could lose it.
          await Promise.race([connection.closed, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
          finish(code);
        }
      }
    },
  );
  listening('recv', server.address, server.backend, fingerprint256, json);
  const code = values.once ? await Promise.race([firstFile, untilStopped().then(() => ExitCode.interrupted)]) : await untilStopped().then(() => ExitCode.ok);
  await server.close(0, 'receiver done');
  return code;
}

async function receiveOne(stream: QuicStream, out: string, json: boolean): Promise<number> {
  const { header, rest } = await readHeader(stream);
  const name = path.basename(header.name);
  if (!name || name === '.' || name === '..') throw new Error(`unusable file name ${JSON.stringify(header.name)}`);
  const target = path.join(out, name);
  const hash = createHash('sha256');
  const progress = new Progress(`recv ${name}`, header.size);
  let bytes = 0;
  const file = fs.createWriteStream(target);
  const account = (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
    progress.add(chunk.length);
  };
  account(rest);
  file.write(rest);
  await pipeline(
    stream,
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        account(chunk);
        yield chunk;
      }
    },
    file,
    { end: true },
  );
  progress.finish();
  const sha256 = hash.digest('hex');
  stream.end(`${JSON.stringify({ sha256, bytes })}\n`);
  const complete = bytes === header.size;
  if (json) console.log(JSON.stringify({ received: target, bytes, sha256, complete }));
  else console.log(`received ${target}: ${bytes} bytes, sha256 ${sha256}${complete ? '' : ` (INCOMPLETE: ${header.size} announced)`}`);
  return complete ? ExitCode.ok : ExitCode.integrity;
}

export async function send(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, trustOptions, 2);
  if (values.help) {
    console.log(sendHelp);
    return ExitCode.ok;
  }
  const [file, target] = positionals;
  if (!file || !target) throw new UsageError('usage: quicbridge send FILE HOST:PORT (see --help)');
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (!stat?.isFile()) throw new UsageError(`${file} is not a file`);
  const { host, port } = hostPort(target);
  const trust = trustOf(values);
  const connection = await connect({ host, port, alpn: FILE_ALPN, backend: backendOf(values), signal: handshakeSignal(values), ...trust.connect });
  try {
    const stream = await connection.openStream();
    const hash = createHash('sha256');
    const progress = new Progress(`send ${path.basename(file)}`, stat.size);
    stream.write(`${JSON.stringify({ name: path.basename(file), size: stat.size })}\n`);
    const reply = (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') as { sha256: string; bytes: number } | null;
    })();
    await pipeline(
      fs.createReadStream(file),
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hash.update(chunk);
          progress.add(chunk.length);
          yield chunk;
        }
      },
      stream,
    );
    progress.finish();
    const sha256 = hash.digest('hex');
    const answer = await reply;
    if (!answer || answer.sha256 !== sha256 || answer.bytes !== stat.size) {
      throw new CliFailure(`the receiver got ${answer?.bytes ?? 0} bytes with sha256 ${answer?.sha256 ?? '?'}; sent ${stat.size} with ${sha256}`, ExitCode.integrity);
    }
    console.log(`sent ${file}: ${stat.size} bytes, sha256 ${sha256}, verified by the receiver`);
    return ExitCode.ok;
  } finally {
    await connection.close(0, 'done');
  }
}
