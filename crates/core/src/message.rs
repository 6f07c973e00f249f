//! The wire format of the agentic-flow message protocol (ALPN
//! `agentic-flow/1`, documented in docs/agentic-flow.md,
//! "Message framing"). This module only encodes and checks bytes; which
//! stream carries what is `lib/agentic-flow`'s business.
//!
//! Every bidirectional stream of such a connection starts with a kind byte
//! and the format version:
//!
//! - `M` (0x4D), 1: a message stream. The opener sends one message frame
//!   and finishes; the receiver answers with one reply frame and finishes.
//! - `S` (0x53), 1: a data stream; raw bytes both ways after these two.
//!
//! Message frame (big-endian lengths):
//!
//! ```text
//! 'M' 0x01 | H: u32 | header: H bytes of JSON {"id","type","timestamp"}
//!          | M: u32 | metadata: M bytes of a JSON object (M = 0: none)
//!          | P: u32 | payload: P bytes, untouched | end of stream
//! ```
//!
//! Reply frame: `'A'` (accepted) or `'N'` (rejected), 0x01, L: u32, then L
//! bytes of JSON `{"id": …}` (`{"id": …, "error": …}` when rejected).
//!
//! Metadata travels as the JSON text the sender wrote (checked to be an
//! object, never re-serialized), so key order and number spelling survive.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode, Result};

/// The ALPN protocol of connections speaking this format.
pub const ALPN: &str = "agentic-flow/1";
pub const VERSION: u8 = 1;
const KIND_MESSAGE: u8 = b'M';
const KIND_DATA: u8 = b'S';
const REPLY_ACCEPTED: u8 = b'A';
const REPLY_REJECTED: u8 = b'N';
/// The largest header (and reply) JSON: ids and type names, not data.
pub const MAX_HEADER_LEN: usize = 64 * 1024;
/// The largest id and type name, in bytes.
const MAX_NAME_LEN: usize = 1024;
/// Timestamps are JavaScript numbers: integers up to 2^53 - 1.
const MAX_TIMESTAMP: u64 = (1 << 53) - 1;

fn bad(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::BadFrame, message)
}

/// What a stream carries, from its first two bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Message,
    Data,
}

impl StreamKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Message => "message",
            StreamKind::Data => "data",
        }
    }
}

fn check_version(version: u8, what: &str) -> Result<()> {
    if version != VERSION {
        return Err(bad(format!(
            "{what}: format version {version} is not supported (this side speaks {VERSION})"
        )));
    }
    Ok(())
}

/// The kind of a stream from its first bytes (at least two).
pub fn stream_kind(prefix: &[u8]) -> Result<StreamKind> {
    let [kind, version, ..] = prefix else {
        return Err(bad(format!(
            "stream ended after {} byte(s), before its kind and version",
            prefix.len()
        )));
    };
    let kind = match *kind {
        KIND_MESSAGE => StreamKind::Message,
        KIND_DATA => StreamKind::Data,
        other => {
            return Err(bad(format!(
                "stream kind 0x{other:02x} is neither a message (0x4d) nor a data stream (0x53)"
            )))
        }
    };
    check_version(*version, "stream")?;
    Ok(kind)
}

/// The two bytes a data stream starts with.
pub fn data_stream_head() -> [u8; 2] {
    [KIND_DATA, VERSION]
}

/// A message header, as JSON crosses the binding boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageHeader {
    pub id: String,
    /// `task`, `result`, `status`, `coordination`, `heartbeat` or a custom name.
    #[serde(rename = "type")]
    pub kind: String,
    /// Milliseconds since the Unix epoch, as the sender's clock had it.
    pub timestamp: u64,
}

impl MessageHeader {
    fn check(&self) -> Result<()> {
        for (field, value) in [("id", &self.id), ("type", &self.kind)] {
            if value.is_empty() || value.len() > MAX_NAME_LEN {
                return Err(bad(format!(
                    "message {field} must be 1 to {MAX_NAME_LEN} bytes, got {}",
                    value.len()
                )));
            }
        }
        if self.timestamp > MAX_TIMESTAMP {
            return Err(bad(format!(
                "message timestamp must be an integer from 0 to 2^53-1, got {}",
                self.timestamp
            )));
        }
        Ok(())
    }
}

/// The JSON of a header or reply, which the format says is an object:
/// serde would also read the struct from an array of its fields in order.
fn from_object<T: DeserializeOwned>(json: &[u8]) -> std::result::Result<T, String> {
    if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err("expected a JSON object".into());
    }
    serde_json::from_slice(json).map_err(|e| e.to_string())
}

fn length(value: usize, what: &str) -> Result<[u8; 4]> {
    u32::try_from(value)
        .map(u32::to_be_bytes)
        .map_err(|_| bad(format!("{what} of {value} bytes is longer than 2^32-1")))
}

fn check_metadata(metadata: &[u8]) -> Result<()> {
    match serde_json::from_slice::<serde_json::Value>(metadata) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err(bad("message metadata must be a JSON object")),
        Err(e) => Err(bad(format!("message metadata is not JSON: {e}"))),
    }
}

/// Everything of a message frame but its payload, which the caller sends
/// as it is right after. `header` is the JSON of [`MessageHeader`],
/// `metadata` the JSON text of an object (or `None`).
pub fn encode_message_head(
    header: &str,
    metadata: Option<&str>,
    payload_len: u64,
) -> Result<Vec<u8>> {
    let header: MessageHeader = from_object(header.as_bytes())
        .map_err(|e| Error::invalid_arg(format!("message header: {e}")))?;
    header
        .check()
        .map_err(|e| Error::invalid_arg(e.message()))?;
    let header = serde_json::to_vec(&header).expect("a header serializes");
    let metadata = metadata.unwrap_or("").as_bytes();
    if !metadata.is_empty() {
        check_metadata(metadata).map_err(|e| Error::invalid_arg(e.message()))?;
    }
    let payload_len = usize::try_from(payload_len)
        .map_err(|_| Error::invalid_arg("message payload is too large"))?;
    let mut head = Vec::with_capacity(2 + 12 + header.len() + metadata.len());
    head.extend_from_slice(&[KIND_MESSAGE, VERSION]);
    head.extend_from_slice(&length(header.len(), "message header")?);
    head.extend_from_slice(&header);
    head.extend_from_slice(&length(metadata.len(), "message metadata")?);
    head.extend_from_slice(metadata);
    head.extend_from_slice(&length(payload_len, "message payload")?);
    Ok(head)
}

/// Where the parts of a received message frame are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecodedHead {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub timestamp: u64,
    /// Offset and length of the metadata JSON (length 0: none).
    pub metadata_offset: usize,
    pub metadata_length: usize,
    pub payload_offset: usize,
    pub payload_length: usize,
}

/// The result of looking at the start of a frame: its parts, or how many
/// bytes of it are needed to see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadDecode {
    Complete(DecodedHead),
    /// Call again with at least this many bytes of the frame. Once the
    /// prefix holds the header and the metadata length after it (any
    /// prefix of `MAX_HEADER_LEN + 10` bytes does), every length is known
    /// and this is the last time.
    Needs(usize),
}

fn read_u32(bytes: &[u8], at: usize) -> Option<usize> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

/// Checks the start of a message frame, `prefix` (its first bytes), against
/// the frame's `total_len`, and says where its parts are. The payload is
/// not looked at: only its length must match what remains of the frame.
pub fn decode_message_head(prefix: &[u8], total_len: usize) -> Result<HeadDecode> {
    if prefix.len() > total_len {
        return Err(Error::invalid_arg(
            "the prefix is longer than the frame it is said to start",
        ));
    }
    let truncated = |needed: usize| {
        if total_len < needed {
            Err(bad(format!(
                "message frame of {total_len} bytes ends inside its head (needs at least {needed})"
            )))
        } else {
            Ok(HeadDecode::Needs(needed))
        }
    };
    if prefix.len() < 6 {
        return truncated(6);
    }
    if stream_kind(prefix)? != StreamKind::Message {
        return Err(bad("not a message frame (kind byte is not 0x4d)"));
    }
    let header_len = read_u32(prefix, 2).expect("checked above");
    if header_len > MAX_HEADER_LEN {
        return Err(bad(format!(
            "message header of {header_len} bytes exceeds {MAX_HEADER_LEN}"
        )));
    }
    let metadata_at = 6 + header_len;
    if prefix.len() < metadata_at + 4 {
        return truncated(metadata_at + 4);
    }
    let header: MessageHeader =
        from_object(&prefix[6..metadata_at]).map_err(|e| bad(format!("message header: {e}")))?;
    header
        .check()
        .map_err(|e| bad(format!("message header: {}", e.message())))?;
    let metadata_length = read_u32(prefix, metadata_at).expect("checked above");
    let metadata_offset = metadata_at + 4;
    // Checked: on wasm32, usize is 32 bits and a peer's metadata length
    // near 2^32 would otherwise wrap the offsets past it.
    let Some(payload_offset) = metadata_offset
        .checked_add(metadata_length)
        .and_then(|at| at.checked_add(4))
        .filter(|&offset| offset <= total_len)
    else {
        return Err(bad(format!(
            "message frame of {total_len} bytes ends inside its metadata ({metadata_length} bytes said)"
        )));
    };
    let payload_at = payload_offset - 4;
    if prefix.len() < payload_offset {
        return Ok(HeadDecode::Needs(payload_offset));
    }
    if metadata_length > 0 {
        check_metadata(&prefix[metadata_offset..payload_at])?;
    }
    let payload_length = read_u32(prefix, payload_at).expect("checked above");
    if total_len - payload_offset != payload_length {
        return Err(bad(format!(
            "message payload is said to be {payload_length} bytes, the frame holds {}",
            total_len - payload_offset
        )));
    }
    Ok(HeadDecode::Complete(DecodedHead {
        id: header.id,
        kind: header.kind,
        timestamp: header.timestamp,
        metadata_offset,
        metadata_length,
        payload_offset,
        payload_length,
    }))
}

/// A receiver's answer to a message: accepted, or rejected with a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    /// The message's id (`None` when the frame was too broken to tell).
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn encode_reply(reply: &Reply) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(reply).expect("a reply serializes");
    if json.len() > MAX_HEADER_LEN {
        return Err(Error::invalid_arg(format!(
            "reply of {} bytes exceeds {MAX_HEADER_LEN}",
            json.len()
        )));
    }
    let kind = if reply.error.is_some() {
        REPLY_REJECTED
    } else {
        REPLY_ACCEPTED
    };
    let mut frame = Vec::with_capacity(6 + json.len());
    frame.extend_from_slice(&[kind, VERSION]);
    frame.extend_from_slice(&length(json.len(), "reply")?);
    frame.extend_from_slice(&json);
    Ok(frame)
}

pub fn reply_from_json(json: &str) -> Result<Reply> {
    from_object(json.as_bytes()).map_err(|e| Error::invalid_arg(format!("reply: {e}")))
}

/// Decodes a whole reply frame (everything the receiver sent back).
pub fn decode_reply(frame: &[u8]) -> Result<Reply> {
    let [kind, version, ..] = frame else {
        return Err(bad(format!(
            "reply of {} byte(s) ends before its kind and version",
            frame.len()
        )));
    };
    let accepted = match *kind {
        REPLY_ACCEPTED => true,
        REPLY_REJECTED => false,
        other => {
            return Err(bad(format!(
                "reply kind 0x{other:02x} is neither accepted (0x41) nor rejected (0x4e)"
            )))
        }
    };
    check_version(*version, "reply")?;
    let len = read_u32(frame, 2).ok_or_else(|| bad("reply ends inside its length"))?;
    if len > MAX_HEADER_LEN || 6 + len != frame.len() {
        return Err(bad(format!(
            "reply is said to be {len} bytes, {} arrived",
            frame.len() - 6
        )));
    }
    let reply: Reply = from_object(&frame[6..]).map_err(|e| bad(format!("reply: {e}")))?;
    if accepted != reply.error.is_none() {
        return Err(bad("reply kind and content disagree"));
    }
    Ok(reply)
}

/// A length from JavaScript (a `number`), checked.
pub fn length_arg(value: f64, what: &str) -> Result<usize> {
    if !(value.is_finite() && value.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&value)) {
        return Err(Error::invalid_arg(format!(
            "{what} must be an integer from 0 to 2^32-1, got {value}"
        )));
    }
    Ok(value as usize)
}

/// [`decode_message_head`] as the bindings hand it to JavaScript: the JSON
/// of [`DecodedHead`], or `{"needs": n}`.
pub fn decode_message_head_json(prefix: &[u8], total_len: usize) -> Result<String> {
    Ok(match decode_message_head(prefix, total_len)? {
        HeadDecode::Complete(head) => serde_json::to_string(&head).expect("a head serializes"),
        HeadDecode::Needs(n) => format!(r#"{{"needs":{n}}}"#),
    })
}

/// [`encode_reply`] from the JSON of a [`Reply`].
pub fn encode_reply_json(json: &str) -> Result<Vec<u8>> {
    encode_reply(&reply_from_json(json)?)
}

/// [`decode_reply`] to the JSON of a [`Reply`].
pub fn decode_reply_json(frame: &[u8]) -> Result<String> {
    Ok(serde_json::to_string(&decode_reply(frame)?).expect("a reply serializes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(header: &str, metadata: Option<&str>, payload: &[u8]) -> Vec<u8> {
        let mut frame = encode_message_head(header, metadata, payload.len() as u64).unwrap();
        frame.extend_from_slice(payload);
        frame
    }

    fn complete(prefix: &[u8], total: usize) -> DecodedHead {
        match decode_message_head(prefix, total).unwrap() {
            HeadDecode::Complete(head) => head,
            other => panic!("expected a complete head, got {other:?}"),
        }
    }

    const HEADER: &str = r#"{"id":"m-1","type":"task","timestamp":1700000000000}"#;

    #[test]
    fn a_message_round_trips_with_payload_and_metadata_untouched() {
        let payload: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let metadata = r#"{"z":1,"a":[1.50,"x"],"nested":{"k":null}}"#;
        let bytes = frame(HEADER, Some(metadata), &payload);
        assert_eq!(stream_kind(&bytes).unwrap(), StreamKind::Message);
        let head = complete(&bytes, bytes.len());
        assert_eq!(
            (head.id.as_str(), head.kind.as_str(), head.timestamp),
            ("m-1", "task", 1_700_000_000_000)
        );
        let meta = &bytes[head.metadata_offset..head.metadata_offset + head.metadata_length];
        assert_eq!(meta, metadata.as_bytes(), "metadata is the sender's text");
        assert_eq!(&bytes[head.payload_offset..], &payload[..]);
        assert_eq!(head.payload_length, payload.len());
    }

    #[test]
    fn the_layout_is_the_documented_one() {
        let bytes = frame(r#"{"id":"a","type":"b","timestamp":7}"#, Some("{}"), b"xyz");
        let header = br#"{"id":"a","type":"b","timestamp":7}"#;
        let mut expected = vec![b'M', 1, 0, 0, 0, header.len() as u8];
        expected.extend_from_slice(header);
        expected.extend_from_slice(&[0, 0, 0, 2, b'{', b'}', 0, 0, 0, 3, b'x', b'y', b'z']);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn a_short_prefix_asks_for_more() {
        let metadata = format!(r#"{{"big":"{}"}}"#, "x".repeat(100_000));
        let bytes = frame(HEADER, Some(&metadata), b"payload");
        let needed = match decode_message_head(&bytes[..1000], bytes.len()).unwrap() {
            HeadDecode::Needs(n) => n,
            other => panic!("{other:?}"),
        };
        assert!(needed > 100_000 && needed < bytes.len());
        let head = complete(&bytes[..needed], bytes.len());
        assert_eq!(&bytes[head.payload_offset..], b"payload");
    }

    #[test]
    fn once_the_lengths_are_in_view_more_is_asked_for_once() {
        let header = HEADER.to_string() + &" ".repeat(MAX_HEADER_LEN - HEADER.len());
        let metadata = br#"{"k":"v"}"#;
        let mut bytes = vec![b'M', VERSION];
        bytes.extend_from_slice(&(header.len() as u32).to_be_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&(metadata.len() as u32).to_be_bytes());
        bytes.extend_from_slice(metadata);
        bytes.extend_from_slice(&[0, 0, 0, 2, b'h', b'i']);
        let needed = match decode_message_head(&bytes[..MAX_HEADER_LEN + 10], bytes.len()).unwrap()
        {
            HeadDecode::Needs(n) => n,
            other => panic!("{other:?}"),
        };
        let head = complete(&bytes[..needed], bytes.len());
        assert_eq!(&bytes[head.payload_offset..], b"hi");
    }

    #[test]
    fn a_metadata_length_near_2_32_is_a_bad_frame() {
        // On wasm32 the offset past the payload length field (2^32 here)
        // wrapped and the metadata slice then panicked.
        let mut bytes = vec![b'M', VERSION];
        bytes.extend_from_slice(&(HEADER.len() as u32).to_be_bytes());
        bytes.extend_from_slice(HEADER.as_bytes());
        let metadata_length = u32::MAX - 3 - (10 + HEADER.len() as u32);
        bytes.extend_from_slice(&metadata_length.to_be_bytes());
        bytes.extend_from_slice(b"{}\0\0\0\0");
        assert!(bad_frame(&bytes).message().contains("inside its metadata"));
    }

    #[test]
    fn no_metadata_and_an_empty_payload() {
        let bytes = frame(HEADER, None, b"");
        let head = complete(&bytes, bytes.len());
        assert_eq!((head.metadata_length, head.payload_length), (0, 0));
    }

    fn bad_frame(bytes: &[u8]) -> Error {
        let err = decode_message_head(bytes, bytes.len()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::BadFrame, "{}", err.message());
        err
    }

    #[test]
    fn bad_frames_are_typed_errors_that_say_what_is_wrong() {
        let good = frame(HEADER, Some(r#"{"a":1}"#), b"12345");
        // Truncated anywhere: in the head, in the metadata, in the payload.
        for cut in [1, 5, 20, good.len() - 14, good.len() - 1] {
            bad_frame(&good[..cut]);
        }
        // Trailing bytes after the payload.
        let mut long = good.clone();
        long.push(0);
        assert!(bad_frame(&long).message().contains("payload"));
        // Wrong kind, wrong version.
        let mut kind = good.clone();
        kind[0] = b'X';
        assert!(bad_frame(&kind).message().contains("kind"));
        let mut version = good.clone();
        version[1] = 9;
        assert!(bad_frame(&version).message().contains("version"));
        // A data stream is not a message.
        let mut data = data_stream_head().to_vec();
        data.extend_from_slice(&good[2..]);
        bad_frame(&data);
        // Header not JSON, or missing fields, or unknown ones.
        for header in [
            "not json",
            r#"{"id":"a","type":"b"}"#,
            r#"{"id":"a","type":"b","timestamp":1,"extra":1}"#,
            r#"{"id":"","type":"b","timestamp":1}"#,
            r#"{"id":"a","type":"b","timestamp":-1}"#,
            r#"["a","b",1]"#,
        ] {
            let mut bytes = vec![b'M', 1];
            bytes.extend_from_slice(&(header.len() as u32).to_be_bytes());
            bytes.extend_from_slice(header.as_bytes());
            bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
            assert!(bad_frame(&bytes).message().contains("header"), "{header}");
        }
        // Metadata that is not a JSON object.
        for metadata in ["[1]", "{"] {
            let mut bytes = good[..6 + HEADER.len()].to_vec();
            bytes.extend_from_slice(&(metadata.len() as u32).to_be_bytes());
            bytes.extend_from_slice(metadata.as_bytes());
            bytes.extend_from_slice(&[0, 0, 0, 0]);
            assert!(bad_frame(&bytes).message().contains("metadata"));
        }
        // A huge header length is refused before anything is read.
        let mut huge = vec![b'M', 1];
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        huge.resize(100, 0);
        assert!(bad_frame(&huge).message().contains("exceeds"));
    }

    #[test]
    fn bad_messages_are_refused_before_they_are_sent() {
        for (header, metadata) in [
            (r#"{"id":"","type":"task","timestamp":1}"#, None),
            (r#"{"id":"a","type":"","timestamp":1}"#, None),
            (r#"{"id":"a","type":"task"}"#, None),
            (HEADER, Some("[]")),
            (HEADER, Some("nope")),
            (r#" ["a","task",1]"#, None),
        ] {
            let err = encode_message_head(header, metadata, 0).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidArg, "{header} {metadata:?}");
        }
    }

    #[test]
    fn stream_kinds() {
        assert_eq!(stream_kind(&data_stream_head()).unwrap(), StreamKind::Data);
        assert_eq!(stream_kind(b"M\x01").unwrap(), StreamKind::Message);
        assert_eq!(stream_kind(b"M").unwrap_err().code(), ErrorCode::BadFrame);
        assert_eq!(
            stream_kind(b"Q\x01").unwrap_err().code(),
            ErrorCode::BadFrame
        );
        assert_eq!(
            stream_kind(b"S\x02").unwrap_err().code(),
            ErrorCode::BadFrame
        );
    }

    #[test]
    fn replies_round_trip_and_bad_ones_are_typed_errors() {
        for reply in [
            Reply {
                id: Some("m-1".into()),
                error: None,
            },
            Reply {
                id: None,
                error: Some("bad frame".into()),
            },
        ] {
            let bytes = encode_reply(&reply).unwrap();
            assert_eq!(bytes[0], if reply.error.is_some() { b'N' } else { b'A' });
            assert_eq!(decode_reply(&bytes).unwrap(), reply);
        }
        let good = encode_reply(&Reply {
            id: Some("x".into()),
            error: None,
        })
        .unwrap();
        let mut lying = good.clone();
        lying[0] = b'N';
        let array = b"A\x01\0\0\0\x07[\"m-1\"]";
        for bytes in [
            &good[..3],
            &good[..good.len() - 1],
            &lying[..],
            b"Z\x01",
            array,
        ] {
            assert_eq!(decode_reply(bytes).unwrap_err().code(), ErrorCode::BadFrame);
        }
        assert_eq!(
            reply_from_json(r#"["m-1"]"#).unwrap_err().code(),
            ErrorCode::InvalidArg
        );
    }
}
