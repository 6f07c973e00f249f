import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';

import { Http3Client } from '../http3';
import { backendOf, handshakeSignal, parse, trustOf, trustOptions } from './common';
import { ExitCode, UsageError } from './exit-codes';
import { Progress } from './progress';

export const getHelp = `usage: quicbridge get URL [options]

An HTTP/3 GET with a progress bar. The body goes to stdout (or -o FILE);
the status line and headers to stderr with --verbose.

options:
  -o, --output FILE   write the body there
  -H, --header 'name: value'   add a request header (repeatable)
  --timeout S         give up on the handshake after S seconds (default 10)
  --ca FILE | --fingerprint SHA256 | --insecure   how to trust the server
  --servername NAME   name the certificate must carry (default: the URL's host)
  -v, --verbose       print the status and response headers to stderr
  --backend B         native or wasm
exit status: 0 for a 2xx/3xx answer; 5 for 4xx/5xx; 3 TLS; 4 unreachable.`;

export async function get(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { ...trustOptions, output: { type: 'string', short: 'o' }, header: { type: 'string', short: 'H', multiple: true }, verbose: { type: 'boolean', short: 'v' } },
    1,
  );
  if (values.help) {
    console.log(getHelp);
    return ExitCode.ok;
  }
  const [target] = positionals;
  if (!target) throw new UsageError('usage: quicbridge get URL (see --help)');
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new UsageError(`not a URL: ${target}`);
  }
  if (url.protocol !== 'https:') throw new UsageError('HTTP/3 URLs start with https://');
  const headers = ((values.header as string[] | undefined) ?? []).map((line): [string, string] => {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header wants 'name: value', got ${JSON.stringify(line)}`);
    return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
  });
  const trust = trustOf(values);
  const client = await Http3Client.connect({
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : 443,
    backend: backendOf(values),
    signal: handshakeSignal(values),
    ...trust.connect,
  });
  try {
    const response = await client.request(url, { headers });
    if (values.verbose) {
      process.stderr.write(`HTTP/3 ${response.status}\n`);
      for (const [name, value] of response.headers) process.stderr.write(`${name}: ${value}\n`);
    }
    const length = response.header('content-length');
    const progress = new Progress(`get ${url.pathname}`, length === undefined ? undefined : Number(length));
    const sink = typeof values.output === 'string' ? fs.createWriteStream(values.output) : process.stdout;
    await pipeline(
      response.body,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          progress.add(chunk.length);
          yield chunk;
        }
      },
      sink,
      { end: sink !== process.stdout },
    );
    progress.finish();
    return response.status >= 400 ? ExitCode.httpStatus : ExitCode.ok;
  } finally {
    await client.close();
  }
}
