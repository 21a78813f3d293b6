//! What a node's `ephemeralOwner` means (`EphemeralType`): persistent, ephemeral of a session,
//! container, or TTL.

/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`.
pub const CONTAINER_EPHEMERAL_OWNER: i64 = i64::MIN;
/// The largest TTL a node can have, in ms (40 bits).
pub const MAX_TTL_MS: i64 = 0xFF_FFFF_FFFF;
const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000_u64 as i64;
const RESERVED_BITS_MASK: i64 = 0x00ff_ff00_0000_0000;

/// The kind of a node, read from its stored `ephemeralOwner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Persistent,
    /// Owned by the session with this id.
    Ephemeral(i64),
    Container,
    /// A TTL node with this TTL in ms; only with extended types enabled.
    Ttl(i64),
}

impl NodeKind {
    /// `EphemeralType.get`: with extended types disabled, a TTL owner reads as an ephemeral.
    pub fn of(ephemeral_owner: i64, extended_types_enabled: bool) -> NodeKind {
        if extended_types_enabled
            && ephemeral_owner & EXTENDED_MASK == EXTENDED_MASK
            && (ephemeral_owner & RESERVED_BITS_MASK) >> 40 == 0
        {
            return NodeKind::Ttl(ephemeral_owner & MAX_TTL_MS);
        }
        match ephemeral_owner {
            CONTAINER_EPHEMERAL_OWNER => NodeKind::Container,
            0 => NodeKind::Persistent,
            session => NodeKind::Ephemeral(session),
        }
    }

    /// The `ephemeralOwner` clients see: 0 for containers and TTL nodes.
    pub fn client_owner(self) -> i64 {
        match self {
            NodeKind::Ephemeral(session) => session,
            _ => 0,
        }
    }
}

/// `EphemeralType.TTL.toEphemeralOwner`: `None` when the TTL is not in `1..=MAX_TTL_MS`.
pub fn ttl_owner(ttl_ms: i64) -> Option<i64> {
    (ttl_ms > 0 && ttl_ms <= MAX_TTL_MS).then_some(EXTENDED_MASK | ttl_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify() {
        assert_eq!(NodeKind::of(0, false), NodeKind::Persistent);
        assert_eq!(NodeKind::of(i64::MIN, false), NodeKind::Container);
        assert_eq!(
            NodeKind::of(0x0100_0000_0000_0001, true),
            NodeKind::Ephemeral(0x0100_0000_0000_0001)
        );
        let ttl = ttl_owner(5000).unwrap();
        assert_eq!(ttl, 0xff00_0000_0000_1388_u64 as i64);
        assert_eq!(NodeKind::of(ttl, true), NodeKind::Ttl(5000));
        assert_eq!(NodeKind::of(ttl, false), NodeKind::Ephemeral(ttl));
        assert_eq!(ttl_owner(0), None);
        assert_eq!(ttl_owner(MAX_TTL_MS + 1), None);
        assert_eq!(NodeKind::Container.client_owner(), 0);
    }
}
