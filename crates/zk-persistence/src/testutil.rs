//! Helpers of the unit tests.

use bytes::Bytes;
use zk_jute::txn::{
    CreateSessionTxn, CreateTxn, SetDataTxn, TxnBody, TxnDigest, TxnEntry, TxnHeader,
};
use zk_jute::{Acl, OpCode, SessionId, Zxid};

/// A txn that varies with `zxid`: createSession, create or setData, with a digest.
pub(crate) fn txn(zxid: i64) -> TxnEntry {
    let (ty, body) = match zxid % 3 {
        0 => (
            OpCode::CreateSession,
            TxnBody::CreateSession(CreateSessionTxn { time_out: 30_000 }),
        ),
        1 => (
            OpCode::Create,
            TxnBody::Create(CreateTxn {
                path: format!("/node-{zxid}"),
                data: Some(Bytes::from(vec![zxid as u8; (zxid % 50) as usize])),
                acl: Acl::open_unsafe(),
                ephemeral: false,
                parent_c_version: zxid as i32,
            }),
        ),
        _ => (
            OpCode::SetData,
            TxnBody::SetData(SetDataTxn {
                path: format!("/node-{}", zxid - 1),
                data: None,
                version: 1,
            }),
        ),
    };
    TxnEntry {
        header: TxnHeader {
            client_id: SessionId(0x0100_0000_0000_0001),
            cxid: zxid as i32,
            zxid: Zxid(zxid),
            time: 1_700_000_000_000 + zxid,
            r#type: ty.code(),
        },
        body,
        digest: Some(TxnDigest {
            version: 2,
            tree_digest: zxid * 1_000_003,
        }),
    }
}
