"""aioquic as an independent QUIC peer for quicbridge's interop tests.

    aioquic_peer.py server --cert CHAIN.pem --key KEY.pem [--retry] [--max-streams K] ...
    aioquic_peer.py client --port P --ca CA.pem --mode echo|streams|datagrams ...

The server echoes every bidirectional stream (streaming, then FIN) and every
DATAGRAM frame, prints {"event": "listening", "port": N} when ready, one
{"event": "connection", ...} line per finished connection, and runs until
SIGTERM. The client runs one mode, prints one JSON line of results and exits
0 when every check passed. Both sides print only JSON on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import pickle
import signal
import ssl
import sys
import time

import aioquic
from aioquic.asyncio import QuicConnectionProtocol, connect, serve
from aioquic.quic import events
from aioquic.quic.configuration import QuicConfiguration
from aioquic.tls import CipherSuite, Epoch, SessionTicket

CIPHERS = {
    "AES128": CipherSuite.AES_128_GCM_SHA256,
    "AES256": CipherSuite.AES_256_GCM_SHA384,
    "CHACHA20": CipherSuite.CHACHA20_POLY1305_SHA256,
}
IANA_NAMES = {
    CipherSuite.AES_128_GCM_SHA256: "TLS_AES_128_GCM_SHA256",
    CipherSuite.AES_256_GCM_SHA384: "TLS_AES_256_GCM_SHA384",
    CipherSuite.CHACHA20_POLY1305_SHA256: "TLS_CHACHA20_POLY1305_SHA256",
}
MAX_DATAGRAM_FRAME_SIZE = 65536


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def configuration(args: argparse.Namespace, is_client: bool) -> QuicConfiguration:
    config = QuicConfiguration(
        is_client=is_client,
        alpn_protocols=args.alpn.split(","),
        max_datagram_frame_size=MAX_DATAGRAM_FRAME_SIZE,
        idle_timeout=args.idle_timeout,
        # 5 MiB echoes should not crawl through aioquic's 1 MiB default windows.
        max_data=16 * 1024 * 1024,
        max_stream_data=4 * 1024 * 1024,
    )
    if args.cipher:
        config.cipher_suites = [CIPHERS[c] for c in args.cipher.upper().split(",")]
    return config


def negotiated(protocol: QuicConnectionProtocol) -> dict:
    quic = protocol._quic
    schedule = quic.tls.key_schedule
    one_rtt = quic._cryptos.get(Epoch.ONE_RTT)
    return {
        "alpn": quic.tls.alpn_negotiated,
        "cipher": IANA_NAMES.get(schedule.cipher_suite) if schedule else None,
        "key_phase": one_rtt.key_phase if one_rtt else None,
    }


# ---------------------------------------------------------------- server


class EchoServerProtocol(QuicConnectionProtocol):
    def __init__(self, *args, max_streams: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if max_streams is not None:
            # aioquic has no setting for this; the limit is read when the
            # transport parameters are built, after this constructor, and is
            # raised by one as each stream is discarded (MAX_STREAMS).
            self._quic._local_max_streams_bidi.value = max_streams
        self._handshake: events.HandshakeCompleted | None = None
        self._streams = 0
        self._datagrams = 0

    def quic_event_received(self, event: events.QuicEvent) -> None:
        if isinstance(event, events.HandshakeCompleted):
            self._handshake = event
        elif isinstance(event, events.StreamDataReceived):
            # Only client-initiated bidirectional streams are echoed.
            if event.stream_id % 4 == 0:
                if event.end_stream:
                    self._streams += 1
                self._quic.send_stream_data(event.stream_id, event.data, event.end_stream)
                self.transmit()
        elif isinstance(event, events.DatagramFrameReceived):
            self._datagrams += 1
            self._quic.send_datagram_frame(event.data)
            self.transmit()
        elif isinstance(event, events.ConnectionTerminated):
            hs = self._handshake
            emit(
                {
                    "event": "connection",
                    **negotiated(self),
                    "resumed": bool(hs and hs.session_resumed),
                    "early_data_accepted": bool(hs and hs.early_data_accepted),
                    "streams": self._streams,
                    "datagrams": self._datagrams,
                    "error_code": event.error_code,
                    "reason": event.reason_phrase,
                }
            )


async def run_server(args: argparse.Namespace) -> int:
    config = configuration(args, is_client=False)
    config.load_cert_chain(args.cert, args.key)
    # Single-use tickets, so a replayed 0-RTT flight is not accepted twice.
    tickets: dict[bytes, SessionTicket] = {}

    server = await serve(
        args.host,
        args.port,
        configuration=config,
        create_protocol=lambda *a, **kw: EchoServerProtocol(*a, max_streams=args.max_streams, **kw),
        # None for a ticket this process never issued (a client may offer one
        # from an earlier server under the same name): a full handshake then.
        # tickets.pop alone raises KeyError inside aioquic's TLS and stalls
        # the connection.
        session_ticket_fetcher=lambda label: tickets.pop(label, None),
        session_ticket_handler=lambda t: tickets.__setitem__(t.ticket, t),
        retry=args.retry,
    )
    port = server._transport.get_extra_info("sockname")[1]
    emit({"event": "listening", "peer": "aioquic", "version": aioquic.__version__, "host": args.host, "port": port})

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    return 0


# ---------------------------------------------------------------- client


class ClientProtocol(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received: dict[int, bytearray] = {}
        self.finished: dict[int, asyncio.Future] = {}
        self.datagrams: list[bytes] = []
        self.handshake: events.HandshakeCompleted | None = None
        self.on_bytes = None  # called with the running total of echoed bytes
        self.total = 0
        self.remote_max_streams_bidi: int | None = None
        self._handshake_done: asyncio.Future = self._loop.create_future()

    async def connected(self) -> None:
        # Not wait_connected(): aioquic 1.7 only marks the protocol connected
        # if someone was already waiting when the handshake completed.
        self.transmit()
        await asyncio.shield(self._handshake_done)

    def expect(self, stream_id: int) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self.finished[stream_id] = fut
        self.received[stream_id] = bytearray()
        return fut

    def quic_event_received(self, event: events.QuicEvent) -> None:
        if isinstance(event, events.HandshakeCompleted):
            self.handshake = event
            self.remote_max_streams_bidi = self._quic._remote_max_streams_bidi
            self._handshake_done.set_result(None)
        elif isinstance(event, events.StreamDataReceived):
            buf = self.received.setdefault(event.stream_id, bytearray())
            buf += event.data
            self.total += len(event.data)
            if self.on_bytes:
                self.on_bytes(self.total)
            fut = self.finished.get(event.stream_id)
            if event.end_stream and fut and not fut.done():
                fut.set_result(bytes(buf))
        elif isinstance(event, events.DatagramFrameReceived):
            self.datagrams.append(event.data)
        elif isinstance(event, events.ConnectionTerminated):
            error = ConnectionError(f"connection closed: code {event.error_code} {event.reason_phrase!r}")
            if not self._handshake_done.done():
                self._handshake_done.set_exception(error)
            for fut in self.finished.values():
                if not fut.done():
                    fut.set_exception(error)


async def echo_mode(proto: ClientProtocol, args: argparse.Namespace, result: dict) -> bool:
    data = os.urandom(args.bytes)
    stream_id = proto._quic.get_next_available_stream_id()
    done = proto.expect(stream_id)
    if args.key_update:
        # Mid-transfer: once half of the echo is back, both directions are busy.
        def maybe_update(total: int) -> None:
            if total >= args.bytes // 2 and "key_update_to_phase" not in result:
                # The peer may have updated keys already (quic-go does after
                # 100 packets): ours moves to the other phase from here.
                result["key_update_to_phase"] = 1 - proto._quic._cryptos[Epoch.ONE_RTT].key_phase
                proto._quic.request_key_update()
                proto.transmit()

        proto.on_bytes = maybe_update
    proto._quic.send_stream_data(stream_id, data, end_stream=True)
    proto.transmit()
    echoed = await done
    sent_hash, echo_hash = hashlib.sha256(data).hexdigest(), hashlib.sha256(echoed).hexdigest()
    result.update(bytes=len(data), echoed_bytes=len(echoed), sha256_sent=sent_hash, sha256_echo=echo_hash)
    return sent_hash == echo_hash


async def streams_mode(proto: ClientProtocol, args: argparse.Namespace, result: dict) -> bool:
    quic = proto._quic
    expected: dict[int, bytes] = {}
    futures = []
    for i in range(args.streams):
        payload = hashlib.sha256(i.to_bytes(4, "big")).digest()[: args.stream_size].ljust(args.stream_size, b"\0")
        stream_id = quic.get_next_available_stream_id()
        futures.append(proto.expect(stream_id))
        expected[stream_id] = payload
        # aioquic queues streams beyond the peer's limit and sends
        # STREAMS_BLOCKED; they go out as MAX_STREAMS frames arrive.
        quic.send_stream_data(stream_id, payload, end_stream=True)
    proto.transmit()
    echoes = await asyncio.gather(*futures)
    good = sum(1 for sid, echo in zip(expected, echoes) if expected[sid] == echo)
    result.update(streams=args.streams, stream_size=args.stream_size, streams_ok=good,
                  peer_initial_max_streams_bidi=proto.remote_max_streams_bidi)
    return good == args.streams


async def datagrams_mode(proto: ClientProtocol, args: argparse.Namespace, result: dict) -> bool:
    await proto.connected()
    if proto._quic._remote_max_datagram_frame_size is None:
        result["error"] = "peer does not accept DATAGRAM frames (no max_datagram_frame_size)"
        return False
    sent = [f"datagram {i:05d} ".encode().ljust(args.datagram_size, b".") for i in range(args.datagrams)]
    for i, payload in enumerate(sent):
        proto._quic.send_datagram_frame(payload)
        if i % 10 == 9:
            proto.transmit()
            await asyncio.sleep(0.005)  # unreliable: do not overrun queues
    proto.transmit()
    deadline = time.monotonic() + 3
    while len(proto.datagrams) < len(sent) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    sent_set = set(sent)
    valid = sum(1 for d in proto.datagrams if d in sent_set)
    result.update(datagrams_sent=len(sent), datagrams_received=len(proto.datagrams), datagrams_valid=valid)
    # Loopback loses nothing, but DATAGRAM frames are allowed to be dropped.
    return valid == len(proto.datagrams) and valid >= 0.9 * len(sent)


async def run_client(args: argparse.Namespace) -> int:
    config = configuration(args, is_client=True)
    config.server_name = args.servername or args.host
    if args.insecure:
        config.verify_mode = ssl.CERT_NONE
    else:
        config.load_verify_locations(cafile=args.ca)
    ticket_loaded = False
    if args.session_ticket and os.path.exists(args.session_ticket):
        with open(args.session_ticket, "rb") as fp:
            config.session_ticket = pickle.load(fp)
        ticket_loaded = True
    tickets_saved = 0

    def save_ticket(ticket: SessionTicket) -> None:
        nonlocal tickets_saved
        tickets_saved += 1
        if args.session_ticket:
            with open(args.session_ticket, "wb") as fp:
                pickle.dump(ticket, fp)

    result: dict = {"peer": "aioquic", "version": aioquic.__version__, "role": "client", "mode": args.mode,
                    "ticket_loaded": ticket_loaded}
    started = time.monotonic()
    ok = False
    try:
        async with connect(
            args.host,
            args.port,
            configuration=config,
            create_protocol=ClientProtocol,
            session_ticket_handler=save_ticket,
            # Not waiting for the handshake lets the first flight carry
            # stream data as 0-RTT when a ticket allows it. (Without a ticket
            # the data goes out with the client's Finished, which js-quic's
            # server mishandles: see knownFailures in drivers.ts.)
            wait_connected=False,
        ) as proto:
            assert isinstance(proto, ClientProtocol)
            mode = {"echo": echo_mode, "streams": streams_mode, "datagrams": datagrams_mode}[args.mode]
            ok = await asyncio.wait_for(mode(proto, args, result), args.timeout)
            await proto.connected()
            if args.session_ticket and tickets_saved == 0:
                # The ticket comes after the handshake; give it a moment.
                for _ in range(50):
                    if tickets_saved:
                        break
                    await asyncio.sleep(0.02)
            hs = proto.handshake
            result.update(negotiated(proto))
            result.update(
                resumed=bool(hs and hs.session_resumed),
                early_data_accepted=bool(hs and hs.early_data_accepted),
                tickets_saved=tickets_saved,
            )
            if args.key_update:
                # Done when both directions use the keys we moved to: the
                # peer followed, and the echo (checked above) got through.
                one_rtt = proto._quic._cryptos[Epoch.ONE_RTT]
                target = result.get("key_update_to_phase")
                result["key_update"] = target is not None and one_rtt.send.key_phase == one_rtt.recv.key_phase == target
                ok = ok and result["key_update"]
            proto.close(error_code=0, reason_phrase="done")
    except Exception as exc:  # noqa: BLE001 - every failure becomes a result line
        result["error"] = f"{type(exc).__name__}: {exc}"
        ok = False
    result["elapsed_ms"] = round((time.monotonic() - started) * 1000)
    result["ok"] = ok
    emit(result)
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("server", "client"):
        p = sub.add_parser(name)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=0)
        p.add_argument("--alpn", default="echo", help="comma-separated ALPN protocols")
        p.add_argument("--cipher", help="restrict TLS cipher suites: CHACHA20, AES128, AES256 (comma-separated)")
        p.add_argument("--idle-timeout", type=float, default=30.0)
    server = sub.choices["server"]
    server.add_argument("--cert", required=True, help="certificate chain PEM (leaf first)")
    server.add_argument("--key", required=True, help="private key PEM")
    server.add_argument("--retry", action="store_true", help="validate addresses with Retry")
    server.add_argument("--max-streams", type=int, help="initial limit on the client's bidirectional streams")
    client = sub.choices["client"]
    client.add_argument("--ca", help="CA certificate PEM to verify the server with")
    client.add_argument("--insecure", action="store_true", help="do not verify the server certificate")
    client.add_argument("--servername", default="localhost")
    client.add_argument("--mode", choices=("echo", "streams", "datagrams"), default="echo")
    client.add_argument("--bytes", type=int, default=1024, help="echo mode: bytes sent on one stream")
    client.add_argument("--streams", type=int, default=2000, help="streams mode: number of streams")
    client.add_argument("--stream-size", type=int, default=32)
    client.add_argument("--datagrams", type=int, default=50)
    client.add_argument("--datagram-size", type=int, default=100)
    client.add_argument("--session-ticket", help="file to resume from (if present) and save tickets to")
    client.add_argument("--key-update", action="store_true", help="echo mode: request a key update mid-transfer")
    client.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    if args.command == "client" and not (args.ca or args.insecure):
        parser.error("client needs --ca or --insecure")
    return asyncio.run(run_server(args) if args.command == "server" else run_client(args))


if __name__ == "__main__":
    sys.exit(main())
