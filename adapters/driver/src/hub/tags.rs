//! Tags: short names an application gives members, and the index from
//! each tag to the members that carry it, so that listing a tag costs
//! its members and not the hub's.
//!
//! A member's own tags live in its slot; the index holds only members
//! that are not closing, and a tag is freed with its last member.

use std::collections::{BTreeMap, BTreeSet};

use wscore::MemberId;

/// Why [`Hub::add_tag`](super::Hub::add_tag) refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TagError {
    /// The member has [`HubConfig::max_tags`](super::HubConfig::max_tags)
    /// tags already.
    TooMany {
        /// The bound.
        max: usize,
    },
    /// The tag is longer than
    /// [`HubConfig::max_tag_len`](super::HubConfig::max_tag_len) bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// No such member (it has left the hub, or never was in it).
    UnknownMember,
}

impl std::fmt::Display for TagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TagError::TooMany { max } => write!(f, "the member has {max} tags already"),
            TagError::TooLong { len, max } => {
                write!(f, "a tag of {len} bytes passes the bound of {max}")
            }
            TagError::UnknownMember => f.write_str("no such member in the hub"),
        }
    }
}

impl std::error::Error for TagError {}

/// Checks that `tag` may be added to a member holding `held` tags, under
/// the bounds `max_tags` and `max_len`.
pub(super) fn check(
    tag: &str,
    held: usize,
    max_tags: usize,
    max_len: usize,
) -> Result<(), TagError> {
    if tag.len() > max_len {
        return Err(TagError::TooLong {
            len: tag.len(),
            max: max_len,
        });
    }
    if held >= max_tags {
        return Err(TagError::TooMany { max: max_tags });
    }
    Ok(())
}

/// Tag → the members carrying it that are not closing.
#[derive(Debug, Default)]
pub(super) struct TagIndex {
    members: BTreeMap<String, BTreeSet<MemberId>>,
}

impl TagIndex {
    pub(super) fn insert(&mut self, tag: &str, id: MemberId) {
        match self.members.get_mut(tag) {
            Some(members) => {
                members.insert(id);
            }
            None => {
                self.members.insert(tag.to_owned(), BTreeSet::from([id]));
            }
        }
    }

    /// Takes `id` out of `tag`, freeing the tag with its last member.
    pub(super) fn remove(&mut self, tag: &str, id: MemberId) {
        if let Some(members) = self.members.get_mut(tag) {
            members.remove(&id);
            if members.is_empty() {
                self.members.remove(tag);
            }
        }
    }

    pub(super) fn members(&self, tag: &str) -> Vec<MemberId> {
        self.members
            .get(tag)
            .map(|members| members.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Tags with at least one listed member.
    pub(super) fn len(&self) -> usize {
        self.members.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_is_freed_with_its_last_member() {
        let mut index = TagIndex::default();
        let (a, b) = (MemberId::from_raw(1), MemberId::from_raw(2));
        index.insert("blue", a);
        index.insert("blue", b);
        index.remove("blue", a);
        assert_eq!(index.members("blue"), [b]);
        index.remove("blue", b);
        assert_eq!(index.len(), 0);
        assert!(index.members("blue").is_empty());
    }

    #[test]
    fn the_length_bound_is_checked_before_the_count() {
        assert_eq!(check(&"x".repeat(4), 0, 1, 4), Ok(()));
        assert_eq!(
            check(&"x".repeat(5), 1, 1, 4),
            Err(TagError::TooLong { len: 5, max: 4 })
        );
        assert_eq!(check("x", 1, 1, 4), Err(TagError::TooMany { max: 1 }));
    }
}
