//! What an application keeps with a member: one attachment of bytes, read
//! back by id, bounded by [`HubConfig::max_attachment_len`](super::HubConfig::max_attachment_len).

use bytes::Bytes;

/// Why [`Hub::set_attachment`](super::Hub::set_attachment) refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttachmentError {
    /// The attachment is longer than the hub's
    /// [`HubConfig::max_attachment_len`](super::HubConfig::max_attachment_len);
    /// the member keeps the one it had.
    TooLarge {
        /// Its length in bytes.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// No such member (it has left the hub, or never was in it).
    UnknownMember,
}

impl std::fmt::Display for AttachmentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttachmentError::TooLarge { len, max } => {
                write!(f, "an attachment of {len} bytes passes the bound of {max}")
            }
            AttachmentError::UnknownMember => f.write_str("no such member in the hub"),
        }
    }
}

impl std::error::Error for AttachmentError {}

/// Checks `value` against the bound `max`.
pub(super) fn check(value: &Bytes, max: usize) -> Result<(), AttachmentError> {
    if value.len() > max {
        return Err(AttachmentError::TooLarge {
            len: value.len(),
            max,
        });
    }
    Ok(())
}
