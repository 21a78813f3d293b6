//! `org.apache.zookeeper.txn`: the records of the txn log and of PROPOSAL packets, and the rules
//! readers use to map a TxnHeader type to its body.

use bytes::{Buf, BufMut, Bytes};

use crate::{Acl, DecodeError, OpCode, Record, SessionId, Zxid, record};

record! {
    /// Precedes every txn (32 bytes).
    pub struct TxnHeader {
        pub client_id: SessionId,
        pub cxid: i32,
        pub zxid: Zxid,
        /// Leader wall clock, ms since the epoch.
        pub time: i64,
        /// The opcode of the request, or -1 for a failed one.
        pub r#type: i32,
    }

    /// The tree digest after a txn was applied (3.6+).
    pub struct TxnDigest {
        pub version: i32,
        pub tree_digest: i64,
    }

    /// The create txn of releases before 3.3; read only.
    pub struct CreateTxnV0 {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub ephemeral: bool,
    }

    pub struct CreateTxn {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub ephemeral: bool,
        pub parent_c_version: i32,
    }

    pub struct CreateTtlTxn {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub parent_c_version: i32,
        pub ttl: i64,
    }

    pub struct CreateContainerTxn {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub parent_c_version: i32,
    }

    pub struct DeleteTxn {
        pub path: String,
    }

    /// `version` is the node's new version.
    pub struct SetDataTxn {
        pub path: String,
        pub data: Option<Bytes>,
        pub version: i32,
    }

    pub struct CheckVersionTxn {
        pub path: String,
        pub version: i32,
    }

    /// `version` is the node's new aversion.
    pub struct SetAclTxn {
        pub path: String,
        pub acl: Vec<Acl>,
        pub version: i32,
    }

    pub struct SetMaxChildrenTxn {
        pub path: String,
        pub max: i32,
    }

    pub struct CreateSessionTxn {
        pub time_out: i32,
    }

    /// The ephemerals a session close removes (3.6+).
    pub struct CloseSessionTxn {
        pub paths2_delete: Vec<String>,
    }

    pub struct ErrorTxn {
        pub err: i32,
    }

    /// One sub-txn of a multi: its type and its serialized record.
    pub struct Txn {
        pub r#type: i32,
        pub data: Bytes,
    }

    pub struct MultiTxn {
        pub txns: Vec<Txn>,
    }
}

/// The body of a txn, chosen by the TxnHeader type as `SerializeUtils.deserializeTxn` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnBody {
    CreateSession(CreateSessionTxn),
    /// `None` for a close written before 3.6, which carries no body: remove all the session's
    /// ephemerals.
    CloseSession(Option<CloseSessionTxn>),
    /// create (1) and create2 (15).
    Create(CreateTxn),
    CreateTtl(CreateTtlTxn),
    CreateContainer(CreateContainerTxn),
    /// delete (2) and deleteContainer (20).
    Delete(DeleteTxn),
    /// setData (5) and reconfig (16).
    SetData(SetDataTxn),
    SetAcl(SetAclTxn),
    /// Only inside a multi: a bare check must never reach a log Java reads.
    Check(CheckVersionTxn),
    Error(ErrorTxn),
    Multi(MultiTxn),
}

impl TxnBody {
    /// Reads a top-level txn body of TxnHeader type `ty`. Any type a 3.8 reader rejects (check among
    /// them) is an error.
    pub fn read<B: Buf>(ty: i32, input: &mut B) -> Result<Self, DecodeError> {
        if ty == OpCode::Check.code() {
            return Err(unsupported(ty));
        }
        Self::read_any(ty, input)
    }

    /// Reads the body of a sub-txn of a multi, where check is allowed.
    pub fn read_sub(txn: &Txn) -> Result<Self, DecodeError> {
        Self::read_any(txn.r#type, &mut txn.data.clone())
    }

    fn read_any<B: Buf>(ty: i32, input: &mut B) -> Result<Self, DecodeError> {
        let op = OpCode::try_from(ty).map_err(|_| unsupported(ty))?;
        Ok(match op {
            OpCode::CreateSession => TxnBody::CreateSession(Record::read(input)?),
            OpCode::CloseSession => TxnBody::CloseSession(if input.has_remaining() {
                Some(Record::read(input)?)
            } else {
                None
            }),
            OpCode::Create => TxnBody::Create(read_create(input)?),
            OpCode::Create2 => TxnBody::Create(Record::read(input)?),
            OpCode::CreateTtl => TxnBody::CreateTtl(Record::read(input)?),
            OpCode::CreateContainer => TxnBody::CreateContainer(Record::read(input)?),
            OpCode::Delete | OpCode::DeleteContainer => TxnBody::Delete(Record::read(input)?),
            OpCode::SetData | OpCode::Reconfig => TxnBody::SetData(Record::read(input)?),
            OpCode::SetAcl => TxnBody::SetAcl(Record::read(input)?),
            OpCode::Check => TxnBody::Check(Record::read(input)?),
            OpCode::Error => TxnBody::Error(Record::read(input)?),
            OpCode::Multi => TxnBody::Multi(Record::read(input)?),
            _ => return Err(unsupported(ty)),
        })
    }

    pub fn write<B: BufMut>(&self, out: &mut B) {
        match self {
            TxnBody::CreateSession(t) => t.write(out),
            TxnBody::CloseSession(t) => {
                if let Some(t) = t {
                    t.write(out);
                }
            }
            TxnBody::Create(t) => t.write(out),
            TxnBody::CreateTtl(t) => t.write(out),
            TxnBody::CreateContainer(t) => t.write(out),
            TxnBody::Delete(t) => t.write(out),
            TxnBody::SetData(t) => t.write(out),
            TxnBody::SetAcl(t) => t.write(out),
            TxnBody::Check(t) => t.write(out),
            TxnBody::Error(t) => t.write(out),
            TxnBody::Multi(t) => t.write(out),
        }
    }

    pub fn encoded_len(&self) -> usize {
        match self {
            TxnBody::CreateSession(t) => t.encoded_len(),
            TxnBody::CloseSession(t) => t.as_ref().map_or(0, Record::encoded_len),
            TxnBody::Create(t) => t.encoded_len(),
            TxnBody::CreateTtl(t) => t.encoded_len(),
            TxnBody::CreateContainer(t) => t.encoded_len(),
            TxnBody::Delete(t) => t.encoded_len(),
            TxnBody::SetData(t) => t.encoded_len(),
            TxnBody::SetAcl(t) => t.encoded_len(),
            TxnBody::Check(t) => t.encoded_len(),
            TxnBody::Error(t) => t.encoded_len(),
            TxnBody::Multi(t) => t.encoded_len(),
        }
    }
}

fn unsupported(ty: i32) -> DecodeError {
    DecodeError::invalid(format!("Unsupported Txn with type={ty}"))
}

/// A create written before 3.3 ends before `parentCVersion`; it reads as -1 ("parent's + 1").
fn read_create<B: Buf>(input: &mut B) -> Result<CreateTxn, DecodeError> {
    let path = Record::read(input)?;
    let data = Record::read(input)?;
    let acl = Record::read(input)?;
    let ephemeral = Record::read(input)?;
    let parent_c_version = if input.remaining() >= 4 {
        i32::read(input)?
    } else {
        -1
    };
    Ok(CreateTxn {
        path,
        data,
        acl,
        ephemeral,
        parent_c_version,
    })
}

impl Txn {
    /// A sub-txn of type `ty` holding `body`.
    pub fn new(ty: i32, body: &TxnBody) -> Self {
        let mut data = bytes::BytesMut::with_capacity(body.encoded_len());
        body.write(&mut data);
        Txn {
            r#type: ty,
            data: data.freeze(),
        }
    }
}

/// One txn as logged and proposed: header, body and the digest of the tree after it (absent for
/// failed requests and for logs written before 3.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnEntry {
    pub header: TxnHeader,
    pub body: TxnBody,
    pub digest: Option<TxnDigest>,
}

impl TxnEntry {
    /// Reads a log payload or PROPOSAL data. A missing digest is accepted, as 3.8 readers do.
    pub fn read<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        let header = TxnHeader::read(input)?;
        let body = TxnBody::read(header.r#type, input)?;
        let digest = if input.remaining() >= 12 {
            Some(TxnDigest::read(input)?)
        } else {
            None
        };
        Ok(TxnEntry {
            header,
            body,
            digest,
        })
    }

    pub fn write<B: BufMut>(&self, out: &mut B) {
        self.header.write(out);
        self.body.write(out);
        if let Some(digest) = &self.digest {
            digest.write(out);
        }
    }

    pub fn encoded_len(&self) -> usize {
        self.header.encoded_len()
            + self.body.encoded_len()
            + self.digest.as_ref().map_or(0, Record::encoded_len)
    }

    pub fn to_bytes(&self) -> Bytes {
        let mut out = bytes::BytesMut::with_capacity(self.encoded_len());
        self.write(&mut out);
        out.freeze()
    }
}
