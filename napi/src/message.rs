//! The agentic-flow message format (`quicbridge_core::message`), for
//! `lib/agentic-flow`: bytes in, bytes or JSON out.

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use quicbridge_core::message;

use crate::error::OrThrow;

/// `"message"` or `"data"`, from a stream's first two bytes.
#[napi(ts_return_type = "'message' | 'data'")]
pub fn message_stream_kind(prefix: Buffer) -> napi::Result<&'static str> {
    Ok(message::stream_kind(&prefix).or_throw()?.as_str())
}

/// The two bytes a data stream starts with.
#[napi]
pub fn data_stream_head() -> Buffer {
    Buffer::from(message::data_stream_head().to_vec())
}

/// A message frame up to its payload; `header` is JSON, `metadata` JSON text.
#[napi]
pub fn encode_message_head(
    header: String,
    metadata: Option<String>,
    payload_length: f64,
) -> napi::Result<Buffer> {
    let length = message::length_arg(payload_length, "payloadLength").or_throw()?;
    let head = message::encode_message_head(&header, metadata.as_deref(), length as u64);
    Ok(Buffer::from(head.or_throw()?))
}

/// Where the parts of a message frame are (JSON), or `{"needs": n}`.
#[napi]
pub fn decode_message_head(prefix: Buffer, total_length: f64) -> napi::Result<String> {
    let total = message::length_arg(total_length, "totalLength").or_throw()?;
    message::decode_message_head_json(&prefix, total).or_throw()
}

#[napi]
pub fn encode_message_reply(reply: String) -> napi::Result<Buffer> {
    Ok(Buffer::from(message::encode_reply_json(&reply).or_throw()?))
}

#[napi]
pub fn decode_message_reply(frame: Buffer) -> napi::Result<String> {
    message::decode_reply_json(&frame).or_throw()
}
