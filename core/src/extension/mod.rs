//! WebSocket extensions negotiated in the handshake.
//!
//! The only extension is permessage-deflate ([RFC 7692]) in [`deflate`]. It
//! is switched on per connection with [`Config::deflate`](crate::Config::deflate):
//! a client then offers it, a server accepts a client's offer, and the
//! connection compresses and inflates message payloads, marking compressed
//! messages with RSV1.
//!
//! [RFC 7692]: https://www.rfc-editor.org/rfc/rfc7692

pub(crate) mod deflate;
