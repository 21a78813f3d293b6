//! Value generators for property tests: every jute type gets a proptest strategy, records through
//! the `record!` macro.

use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;

use crate::multi::{MultiOp, MultiRequest, MultiResponse, MultiResult};
use crate::quorum::{InitialMessage, LearnerInfo, Notification};
use crate::txn::{TxnBody, TxnEntry};
use crate::{OpCode, ServerId, SessionId, Xid, Zxid};

pub(crate) trait Generate: Sized + std::fmt::Debug {
    fn strategy() -> BoxedStrategy<Self>;
}

macro_rules! via_any {
    ($($ty:ty),*) => {$(
        impl Generate for $ty {
            fn strategy() -> BoxedStrategy<Self> {
                any::<$ty>().boxed()
            }
        }
    )*};
}
via_any!(i8, i32, i64, bool);

macro_rules! via_inner {
    ($($ty:ident($inner:ty)),*) => {$(
        impl Generate for $ty {
            fn strategy() -> BoxedStrategy<Self> {
                any::<$inner>().prop_map($ty).boxed()
            }
        }
    )*};
}
via_inner!(Zxid(i64), SessionId(i64), ServerId(i64), Xid(i32));

impl Generate for String {
    fn strategy() -> BoxedStrategy<Self> {
        // Paths, schemes and a little of everything else, non-ASCII included.
        prop_oneof![
            "(/[a-z0-9]{1,8}){0,4}",
            any::<String>().prop_map(|s| s.chars().take(24).collect()),
        ]
        .boxed()
    }
}

impl Generate for Bytes {
    fn strategy() -> BoxedStrategy<Self> {
        proptest::collection::vec(any::<u8>(), 0..64)
            .prop_map(Bytes::from)
            .boxed()
    }
}

impl Generate for Arc<[u8]> {
    fn strategy() -> BoxedStrategy<Self> {
        proptest::collection::vec(any::<u8>(), 0..64)
            .prop_map(Arc::from)
            .boxed()
    }
}

impl<T: Generate + 'static> Generate for Option<T> {
    fn strategy() -> BoxedStrategy<Self> {
        proptest::option::of(T::strategy()).boxed()
    }
}

impl<T: Generate + 'static> Generate for Vec<T> {
    fn strategy() -> BoxedStrategy<Self> {
        proptest::collection::vec(T::strategy(), 0..5).boxed()
    }
}

impl Generate for MultiOp {
    fn strategy() -> BoxedStrategy<Self> {
        prop_oneof![
            (
                prop_oneof![
                    Just(OpCode::Create),
                    Just(OpCode::Create2),
                    Just(OpCode::CreateContainer)
                ],
                Generate::strategy()
            )
                .prop_map(|(op, request)| MultiOp::Create { op, request }),
            Generate::strategy().prop_map(MultiOp::CreateTtl),
            Generate::strategy().prop_map(MultiOp::Delete),
            Generate::strategy().prop_map(MultiOp::SetData),
            Generate::strategy().prop_map(MultiOp::Check),
        ]
        .boxed()
    }
}

impl Generate for MultiRequest {
    fn strategy() -> BoxedStrategy<Self> {
        let reads = proptest::collection::vec(
            prop_oneof![
                Generate::strategy().prop_map(MultiOp::GetChildren),
                Generate::strategy().prop_map(MultiOp::GetData),
            ],
            0..4,
        );
        prop_oneof![Vec::<MultiOp>::strategy(), reads]
            .prop_map(|ops| MultiRequest { ops })
            .boxed()
    }
}

impl Generate for MultiResult {
    fn strategy() -> BoxedStrategy<Self> {
        prop_oneof![
            Generate::strategy().prop_map(MultiResult::Create),
            Generate::strategy().prop_map(MultiResult::Create2),
            Just(MultiResult::Delete),
            Generate::strategy().prop_map(MultiResult::SetData),
            Just(MultiResult::Check),
            Generate::strategy().prop_map(MultiResult::GetChildren),
            Generate::strategy().prop_map(MultiResult::GetData),
            any::<i32>().prop_map(MultiResult::Error),
        ]
        .boxed()
    }
}

impl Generate for MultiResponse {
    fn strategy() -> BoxedStrategy<Self> {
        Vec::<MultiResult>::strategy()
            .prop_map(|results| MultiResponse { results })
            .boxed()
    }
}

impl Generate for LearnerInfo {
    fn strategy() -> BoxedStrategy<Self> {
        (Generate::strategy(), any::<i32>(), any::<i64>())
            .prop_map(
                |(server_id, protocol_version, config_version)| LearnerInfo {
                    server_id,
                    protocol_version,
                    config_version,
                },
            )
            .boxed()
    }
}

impl Generate for Notification {
    fn strategy() -> BoxedStrategy<Self> {
        (
            0..4i32,
            Generate::strategy(),
            Generate::strategy(),
            any::<i64>(),
            any::<i64>(),
            Option::<Bytes>::strategy(),
        )
            .prop_map(
                |(state, leader, zxid, election_epoch, peer_epoch, config)| Notification {
                    state,
                    leader,
                    zxid,
                    election_epoch,
                    peer_epoch,
                    version: Notification::CURRENT_VERSION,
                    config: Some(config.unwrap_or_default()),
                },
            )
            .boxed()
    }
}

impl Generate for InitialMessage {
    fn strategy() -> BoxedStrategy<Self> {
        (
            prop_oneof![
                Just(InitialMessage::PROTOCOL_V1),
                Just(InitialMessage::PROTOCOL_V2)
            ],
            (0..i64::MAX).prop_map(ServerId),
            proptest::collection::vec("[a-z0-9.]{1,12}:[0-9]{1,5}", 1..3),
        )
            .prop_map(|(version, server_id, addresses)| InitialMessage {
                protocol_version: Some(version),
                server_id,
                addresses,
            })
            .boxed()
    }
}

/// A header whose type matches the body, as a log or PROPOSAL holds them.
impl Generate for TxnEntry {
    fn strategy() -> BoxedStrategy<Self> {
        let body = prop_oneof![
            Generate::strategy().prop_map(|b| (OpCode::CreateSession, TxnBody::CreateSession(b))),
            Generate::strategy()
                .prop_map(|b| (OpCode::CloseSession, TxnBody::CloseSession(Some(b)))),
            Generate::strategy().prop_map(|b| (OpCode::Create, TxnBody::Create(b))),
            Generate::strategy().prop_map(|b| (OpCode::Create2, TxnBody::Create(b))),
            Generate::strategy().prop_map(|b| (OpCode::CreateTtl, TxnBody::CreateTtl(b))),
            Generate::strategy()
                .prop_map(|b| (OpCode::CreateContainer, TxnBody::CreateContainer(b))),
            Generate::strategy().prop_map(|b| (OpCode::Delete, TxnBody::Delete(b))),
            Generate::strategy().prop_map(|b| (OpCode::SetData, TxnBody::SetData(b))),
            Generate::strategy().prop_map(|b| (OpCode::SetAcl, TxnBody::SetAcl(b))),
            Generate::strategy().prop_map(|b| (OpCode::Error, TxnBody::Error(b))),
            Generate::strategy().prop_map(|b| (OpCode::Multi, TxnBody::Multi(b))),
        ];
        (
            crate::txn::TxnHeader::strategy(),
            body,
            Option::<crate::txn::TxnDigest>::strategy(),
        )
            .prop_map(|(mut header, (op, body), digest)| {
                header.r#type = op.code();
                TxnEntry {
                    header,
                    body,
                    digest,
                }
            })
            .boxed()
    }
}
