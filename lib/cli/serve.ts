import fs from 'node:fs';
import path from 'node:path';

import type { QuicConnection } from '../connection';
import { listen } from '../server';
import { serveHttp3 } from '../http3';
import { backendOf, listening, parse, portOf, serverCertificate, serverCertOptions, untilStopped } from './common';
import { ExitCode } from './exit-codes';

export const serveHelp = `usage: quicbridge serve [options]

An echo, file and HTTP/3 server, by ALPN:
  h3               HTTP/3: GET serves files from --dir
  quicbridge-echo  every stream and datagram is echoed back

options:
  --address IP     address to bind (default 127.0.0.1)
  --port N         UDP port (default 4433; 0 picks one)
  --dir DIR        directory served over HTTP/3 (default: the current one)
  --cert F --key F certificate chain and key (PEM); without them a
                   self-signed certificate for localhost is generated and
                   its SHA-256 fingerprint printed (clients: --fingerprint)
  --cert-out FILE  also write the generated certificate there (clients: --ca)
  --json           print the listening address as one JSON line
  --backend B      native or wasm
Runs until interrupted (Ctrl-C); exit status 0 after a clean shutdown.`;

export const ECHO_ALPN = 'quicbridge-echo';

async function echo(connection: QuicConnection): Promise<void> {
  connection.on('datagram', (data) => {
    try {
      connection.sendDatagram(data);
    } catch {
      // datagrams are best effort
    }
  });
  for await (const stream of connection.streams()) {
    stream.on('error', () => {});
    stream.pipe(stream);
  }
}

function contentType(file: string): string {
  const types: Record<string, string> = { '.html': 'text/html', '.txt': 'text/plain', '.json': 'application/json', '.js': 'text/javascript', '.css': 'text/css' };
  return types[path.extname(file)] ?? 'application/octet-stream';
}

export async function serve(args: string[]): Promise<number> {
  const { values } = parse(args, { ...serverCertOptions, dir: { type: 'string' } }, 0);
  if (values.help) {
    console.log(serveHelp);
    return ExitCode.ok;
  }
  const backend = backendOf(values);
  const root = path.resolve(typeof values.dir === 'string' ? values.dir : '.');
  const { cert, key, fingerprint256 } = serverCertificate(values, backend);
  const server = await listen(
    { address: typeof values.address === 'string' ? values.address : '127.0.0.1', port: portOf(values.port, 4433), cert, key, alpn: ['h3', ECHO_ALPN], backend },
    async (connection) => {
      if (connection.alpn === ECHO_ALPN) return echo(connection);
      return serveHttp3(connection, async (request, response) => {
        const file = path.join(root, decodeURIComponent(new URL(request.path, 'https://x').pathname));
        const inside = file === root || file.startsWith(root + path.sep);
        const stat = inside && request.method === 'GET' ? fs.statSync(file, { throwIfNoEntry: false }) : undefined;
        if (!stat?.isFile()) {
          await response.respond(request.method === 'GET' ? 404 : 405, { 'content-type': 'text/plain' });
          response.end('not found\n');
          return;
        }
        await response.respond(200, { 'content-type': contentType(file), 'content-length': String(stat.size) });
        await new Promise<void>((resolve, reject) => fs.createReadStream(file).pipe(response).on('finish', resolve).on('error', reject));
      });
    },
  );
  listening('serve', server.address, server.backend, fingerprint256, values.json === true);
  await untilStopped();
  await server.close(0, 'server shutting down');
  return ExitCode.ok;
}
