//! The properties that untrusted input must keep, one function per fuzz
//! target. The cargo-fuzz targets (`fuzz/fuzz_targets/`, which enable the
//! `fuzzing` feature) and the stable corpus replay under `cargo test`
//! (`fuzz_replay.rs`) both call these, so the two cannot drift apart. Each
//! takes arbitrary bytes through the same parse-and-validate path the
//! bindings use and panics when a property fails: a panic is what libFuzzer
//! records as a crash, and what the replay test reports.

use crate::config::{ConnectOptions, EndpointOptions, SocketTraits, TransportOptions};
use crate::error::{ErrorCode, Result};
use crate::http3::head::{header_map, headers_of};
use crate::http3::{headers_from_json, headers_to_json, RequestHead, ResponseHead};
use crate::message::{self, DecodedHead, HeadDecode, Reply, StreamKind};
use crate::tls::TlsContext;

/// Options are validated against every kind of socket a backend can have:
/// one that sets don't-fragment (native), one on loopback (large
/// datagrams) and one that may fragment (wasm's elsewhere).
const SOCKETS: [SocketTraits; 3] = [
    SocketTraits {
        may_fragment: false,
        large_datagrams: None,
    },
    SocketTraits {
        may_fragment: false,
        large_datagrams: Some(65_507),
    },
    SocketTraits {
        may_fragment: true,
        large_datagrams: None,
    },
];

/// `Some` on success; a failure must carry `expected` and nothing else.
fn only<T>(result: Result<T>, expected: ErrorCode, what: &str) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(e) => {
            assert_eq!(
                e.code(),
                expected,
                "{what} failed with {} ({}) instead of {}",
                e.code().as_str(),
                e.message(),
                expected.as_str()
            );
            None
        }
    }
}

fn invalid_arg<T>(result: Result<T>, what: &str) -> Option<T> {
    only(result, ErrorCode::InvalidArg, what)
}

/// A transport configuration may also be refused because the socket cannot
/// do what it asks: MTU discovery over a socket that may fragment.
fn transport<T>(
    result: Result<T>,
    options: &TransportOptions,
    socket: SocketTraits,
    what: &str,
) -> Option<T> {
    match result {
        Err(e)
            if e.code() == ErrorCode::BackendUnsupported
                && socket.may_fragment
                && options.mtu_discovery == Some(true) =>
        {
            None
        }
        other => invalid_arg(other, what),
    }
}

fn is_fingerprint(pin: &str) -> bool {
    let hex: Vec<char> = pin.chars().filter(|c| *c != ':').collect();
    hex.len() == 64 && hex.iter().all(char::is_ascii_hexdigit)
}

/// Every option-JSON parser with all of its validation short of opening a
/// socket: endpoint options (server TLS and transport included), connect
/// options (client TLS, pins, remote address and transport) and
/// certificate generation. Failures must be `ERR_QUIC_INVALID_ARG`.
/// Returns how many of the three accepted the input.
pub fn config(input: &[u8]) -> usize {
    // JavaScript strings reach the parsers as UTF-8, whatever they hold.
    let text = String::from_utf8_lossy(input);
    let tls = TlsContext::default();
    let mut accepted = 0;
    if let Some(options) = invalid_arg(EndpointOptions::from_json(&text), "endpoint options") {
        let mut ok = SOCKETS.iter().all(|&socket| {
            invalid_arg(options.endpoint_config(socket), "endpoint config").is_some()
        });
        if let Some(server) = &options.server {
            ok &= invalid_arg(server.max_connections(), "maxConnections").is_some();
            ok &= invalid_arg(server.retry(), "retry").is_some();
            for socket in SOCKETS {
                let config = server.to_quinn(socket, &tls);
                ok &= transport(config, &server.transport, socket, "server config").is_some();
            }
        }
        accepted += usize::from(ok);
    }
    if let Some(options) = invalid_arg(ConnectOptions::from_json(&text), "connect options") {
        let mut ok = invalid_arg(options.remote(), "remote address").is_some();
        for socket in SOCKETS {
            let config = options.to_quinn(socket, &tls);
            if transport(config, &options.transport, socket, "client config").is_some() {
                assert!(
                    options.pinned_sha256.iter().all(|pin| is_fingerprint(pin)),
                    "pins that are not 64 hex digits were accepted: {:?}",
                    options.pinned_sha256
                );
            } else {
                ok = false;
            }
        }
        accepted += usize::from(ok);
    }
    if invalid_arg(
        crate::certs::generate_self_signed_json(&text),
        "certificate options",
    )
    .is_some()
    {
        accepted += 1;
    }
    accepted
}

fn bad_frame<T>(result: Result<T>, what: &str) -> Option<T> {
    only(result, ErrorCode::BadFrame, what)
}

/// What a decode came to when every byte before the payload was given, for
/// comparing decodes: asking for more then is a failure.
fn outcome(result: Result<HeadDecode>) -> Option<DecodedHead> {
    match bad_frame(result, "message head")? {
        HeadDecode::Complete(head) => Some(head),
        HeadDecode::Needs(n) => panic!("given all of a head, the decoder asked for {n} bytes"),
    }
}

/// The head of a frame of `total` bytes, decoded as a receiver does: from
/// the first `first_look` bytes, then as many as the decoder asks for.
fn decode_incrementally(frame: &[u8], total: usize, first_look: usize) -> Option<DecodedHead> {
    // Receivers size their first look so that it holds the header and the
    // metadata length (lib/agentic-flow/message.ts), and rely on being
    // asked for more at most once after that.
    let lengths_seen = |seen: usize| match frame.first_chunk::<6>() {
        Some([_, _, len @ ..]) => seen >= 10 + u32::from_be_bytes(*len) as usize,
        None => false,
    };
    let mut asked_with_lengths_seen = false;
    let mut seen = first_look.min(frame.len());
    loop {
        match bad_frame(
            message::decode_message_head(&frame[..seen], total),
            "message head",
        )? {
            HeadDecode::Complete(head) => return Some(head),
            HeadDecode::Needs(n) => {
                assert!(
                    seen < n && n <= total,
                    "with {seen} of {total} bytes seen, the decoder asked for {n}"
                );
                if lengths_seen(seen) {
                    assert!(
                        !asked_with_lengths_seen,
                        "asked for more twice after every length was in view"
                    );
                    asked_with_lengths_seen = true;
                }
                if n > frame.len() {
                    return None;
                }
                seen = n;
            }
        }
    }
}

/// A complete head must describe a frame that fits together.
fn check_head(head: &DecodedHead, frame: &[u8], total: usize) {
    assert_eq!(
        head.metadata_offset + head.metadata_length + 4,
        head.payload_offset
    );
    assert_eq!(head.payload_offset + head.payload_length, total);
    assert!(
        head.payload_offset <= frame.len(),
        "a head past the bytes seen"
    );
    assert!(!head.id.is_empty() && !head.kind.is_empty());
    assert!(head.timestamp < 1 << 53);
    if head.metadata_length > 0 {
        let metadata = &frame[head.metadata_offset..head.payload_offset - 4];
        let value: serde_json::Value = serde_json::from_slice(metadata).expect("metadata is JSON");
        assert!(value.is_object());
    }
}

/// Whatever a receiver accepts, a sender can send: re-encoding the decoded
/// head gives a frame that decodes to the same message.
fn reencode(head: &DecodedHead, frame: &[u8]) {
    let header =
        serde_json::json!({ "id": head.id, "type": head.kind, "timestamp": head.timestamp })
            .to_string();
    let metadata = &frame[head.metadata_offset..head.metadata_offset + head.metadata_length];
    let metadata = std::str::from_utf8(metadata).expect("JSON metadata is UTF-8");
    let mut again = message::encode_message_head(
        &header,
        (!metadata.is_empty()).then_some(metadata),
        head.payload_length as u64,
    )
    .unwrap_or_else(|e| panic!("a decoded message does not encode: {}", e.message()));
    again.extend_from_slice(&frame[head.payload_offset..]);
    let decoded = outcome(message::decode_message_head(&again, again.len()))
        .expect("a re-encoded message decodes");
    assert_eq!(
        (&decoded.id, &decoded.kind, decoded.timestamp),
        (&head.id, &head.kind, head.timestamp)
    );
    assert_eq!(
        &again[decoded.metadata_offset..decoded.metadata_offset + decoded.metadata_length],
        metadata.as_bytes()
    );
    assert_eq!(
        &again[decoded.payload_offset..],
        &frame[head.payload_offset..]
    );
}

/// A sender's header JSON (and, after the first newline, metadata JSON):
/// what `encode_message_head` accepts must decode to what it was given.
fn encode_from_json(text: &str, payload_length: usize) {
    let (header, metadata) = match text.split_once('\n') {
        Some((header, metadata)) => (header, Some(metadata)),
        None => (text, None),
    };
    let Some(head) = invalid_arg(
        message::encode_message_head(header, metadata, payload_length as u64),
        "encode message head",
    ) else {
        return;
    };
    let total = head.len() + payload_length;
    let decoded =
        outcome(message::decode_message_head(&head, total)).expect("an encoded head decodes");
    assert_eq!(decoded.payload_offset, head.len());
    let sent: serde_json::Value = serde_json::from_str(header).expect("the header was JSON");
    assert_eq!(sent["id"], decoded.id.as_str());
    assert_eq!(sent["type"], decoded.kind.as_str());
    assert_eq!(sent["timestamp"], decoded.timestamp);
}

fn reply_round_trip(reply: &Reply) {
    if let Some(frame) = invalid_arg(message::encode_reply(reply), "encode reply") {
        let decoded = bad_frame(message::decode_reply(&frame), "re-encoded reply")
            .expect("an encoded reply decodes");
        assert_eq!(&decoded, reply);
    }
}

/// Message framing (docs/agentic-flow.md): the stream kind prefix, message
/// heads as a receiver decodes them (at once and piece by piece, whatever
/// the frame's stated length), replies, and encode→decode round trips.
/// Malformed frames must fail with `ERR_QUIC_BAD_FRAME`, bad arguments with
/// `ERR_QUIC_INVALID_ARG`.
pub fn message(input: &[u8]) {
    let kind = bad_frame(message::stream_kind(input), "stream kind");
    let expected = match input {
        [b'M', message::VERSION, ..] => Some(StreamKind::Message),
        [b'S', message::VERSION, ..] => Some(StreamKind::Data),
        _ => None,
    };
    assert_eq!(kind, expected);

    let whole = outcome(message::decode_message_head(input, input.len()));
    if let Some(head) = &whole {
        check_head(head, input, input.len());
        reencode(head, input);
        let json = message::decode_message_head_json(input, input.len()).expect("decoded once");
        serde_json::from_str::<serde_json::Value>(&json).expect("the head JSON parses");
    }
    // Receivers look at a bounded first part of a frame and then at what
    // the decoder asks for; every way of getting there must agree.
    let looks: Vec<usize> = if input.len() <= 64 {
        (0..=input.len()).collect()
    } else {
        (0..=64).chain([input.len() / 2, input.len()]).collect()
    };
    for look in looks {
        assert_eq!(
            decode_incrementally(input, input.len(), look),
            whole,
            "decoding from the first {look} bytes disagrees with decoding at once"
        );
    }
    // The same bytes as the start of a longer frame (up to the largest
    // length JavaScript can pass).
    for total in [input.len() + 1, input.len() + 65_536, u32::MAX as usize] {
        if let Some(head) = decode_incrementally(input, total, input.len()) {
            check_head(&head, input, total);
        }
    }
    if let Some(last) = input.len().checked_sub(1) {
        let result = message::decode_message_head(input, last);
        assert!(
            invalid_arg(result, "prefix over total").is_none(),
            "a prefix longer than its frame was accepted"
        );
    }
    // Frame lengths come from JavaScript numbers; what is accepted must be
    // exactly the number given.
    if let Some(bytes) = input.first_chunk::<8>() {
        let value = f64::from_le_bytes(*bytes);
        if let Some(length) = invalid_arg(message::length_arg(value, "length"), "length") {
            assert_eq!(length as f64, value);
        }
    }

    if let Some(reply) = bad_frame(message::decode_reply(input), "reply") {
        assert_eq!(input[0] == b'A', reply.error.is_none());
        reply_round_trip(&reply);
    }
    let text = String::from_utf8_lossy(input);
    if let Some(reply) = invalid_arg(message::reply_from_json(&text), "reply JSON") {
        reply_round_trip(&reply);
    }
    encode_from_json(&text, input.len());
}

/// HTTP/3 request and response heads and trailers as JSON from JavaScript,
/// and their conversion to `http` types for h3: failures must be
/// `ERR_QUIC_INVALID_ARG`; what converts must survive the round trip a
/// peer's copy of it takes (to `http` types and back) unchanged the second
/// time.
pub fn http3_head(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    head_round_trip::<RequestHead>(&text, "request head");
    head_round_trip::<ResponseHead>(&text, "response head");
    if let Some(trailers) = invalid_arg(headers_from_json(&text), "trailers") {
        assert_eq!(
            headers_from_json(&headers_to_json(&trailers)).ok(),
            Some(trailers.clone())
        );
        if let Some(map) = invalid_arg(header_map(&trailers, "trailers"), "trailers") {
            let seen = headers_of(&map);
            let again = header_map(&seen, "trailers").unwrap_or_else(|e| {
                panic!("trailers from http do not convert back: {}", e.message())
            });
            assert_eq!(headers_of(&again), seen);
        }
    }
}

/// A request or a response head, as far as [`http3_head`] checks them.
trait Head: Sized + Clone + PartialEq + std::fmt::Debug {
    type Http;
    fn from_json(json: &str) -> Result<Self>;
    fn to_json(&self) -> String;
    fn to_http(&self) -> Result<Self::Http>;
    fn from_http(http: &Self::Http) -> Self;
}

/// Both head types have these as inherent functions; the trait only names them.
macro_rules! impl_head {
    ($head:ty, $http:ty) => {
        impl Head for $head {
            type Http = $http;
            fn from_json(json: &str) -> Result<Self> {
                <$head>::from_json(json)
            }
            fn to_json(&self) -> String {
                <$head>::to_json(self)
            }
            fn to_http(&self) -> Result<Self::Http> {
                <$head>::to_http(self)
            }
            fn from_http(http: &Self::Http) -> Self {
                <$head>::from_http(http)
            }
        }
    };
}
impl_head!(RequestHead, http::Request<()>);
impl_head!(ResponseHead, http::Response<()>);

fn head_round_trip<H: Head>(text: &str, what: &str) {
    let Some(head) = invalid_arg(H::from_json(text), what) else {
        return;
    };
    assert_eq!(H::from_json(&head.to_json()).ok(), Some(head.clone()));
    if let Some(http) = invalid_arg(head.to_http(), &format!("{what} to http")) {
        let seen = H::from_http(&http);
        let again = seen.to_http().unwrap_or_else(|e| {
            panic!("a {what} from http does not convert back: {}", e.message())
        });
        assert_eq!(H::from_http(&again), seen);
    }
}
