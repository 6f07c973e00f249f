//! The agentic-flow message format (`quicbridge_core::message`), for
//! `lib/agentic-flow`: bytes in, bytes or JSON out.

use quicbridge_core::message;
use wasm_bindgen::prelude::*;

use crate::error::OrThrow;

/// `"message"` or `"data"`, from a stream's first two bytes.
#[wasm_bindgen(js_name = messageStreamKind, unchecked_return_type = "'message' | 'data'")]
pub fn message_stream_kind(prefix: &[u8]) -> Result<String, JsValue> {
    Ok(message::stream_kind(prefix)
        .or_throw()?
        .as_str()
        .to_string())
}

/// The two bytes a data stream starts with.
#[wasm_bindgen(js_name = dataStreamHead)]
pub fn data_stream_head() -> Vec<u8> {
    message::data_stream_head().to_vec()
}

/// A message frame up to its payload; `header` is JSON, `metadata` JSON text.
#[wasm_bindgen(js_name = encodeMessageHead)]
pub fn encode_message_head(
    header: &str,
    metadata: Option<String>,
    payload_length: f64,
) -> Result<Vec<u8>, JsValue> {
    let length = message::length_arg(payload_length, "payloadLength").or_throw()?;
    message::encode_message_head(header, metadata.as_deref(), length as u64).or_throw()
}

/// Where the parts of a message frame are (JSON), or `{"needs": n}`.
#[wasm_bindgen(js_name = decodeMessageHead)]
pub fn decode_message_head(prefix: &[u8], total_length: f64) -> Result<String, JsValue> {
    let total = message::length_arg(total_length, "totalLength").or_throw()?;
    message::decode_message_head_json(prefix, total).or_throw()
}

#[wasm_bindgen(js_name = encodeMessageReply)]
pub fn encode_message_reply(reply: &str) -> Result<Vec<u8>, JsValue> {
    message::encode_reply_json(reply).or_throw()
}

#[wasm_bindgen(js_name = decodeMessageReply)]
pub fn decode_message_reply(frame: &[u8]) -> Result<String, JsValue> {
    message::decode_reply_json(frame).or_throw()
}
