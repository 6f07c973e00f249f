//! HTTP/3 (RFC 9114) with QPACK (RFC 9204), from the `h3` crates over the
//! same quinn connections as everything else: a session per connection
//! (client or server) and a request stream per exchange.

mod error;
pub(crate) mod head;
mod session;
mod stream;

pub use head::{headers_from_json, headers_to_json, Headers, RequestHead, ResponseHead};
pub use session::Http3Session;
pub use stream::Http3Stream;
