//! `org.apache.zookeeper.proto`: the client protocol's headers, requests and responses.
//!
//! The connect handshake carries one byte after the jute record (the read-only flag); see
//! [`ConnectRequest::read_with_flag`] and [`ConnectResponse::write_with_flag`].

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes};

use crate::{Acl, ClientInfo, DecodeError, Record, SessionId, Stat, Xid, Zxid, record};

record! {
    /// The first message of a session (no RequestHeader before it).
    pub struct ConnectRequest {
        pub protocol_version: i32,
        pub last_zxid_seen: Zxid,
        pub time_out: i32,
        pub session_id: SessionId,
        pub passwd: Bytes,
    }

    /// The server's answer to a ConnectRequest (no ReplyHeader before it). A timeout of 0 means the
    /// session is invalid or expired.
    pub struct ConnectResponse {
        pub protocol_version: i32,
        pub time_out: i32,
        pub session_id: SessionId,
        pub passwd: Bytes,
    }

    /// Watches re-registered on reconnect (opcode 101).
    pub struct SetWatches {
        pub relative_zxid: Zxid,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
    }

    /// Watches re-registered on reconnect, persistent ones included (opcode 105).
    pub struct SetWatches2 {
        pub relative_zxid: Zxid,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
        pub persistent_watches: Vec<String>,
        pub persistent_recursive_watches: Vec<String>,
    }

    pub struct RequestHeader {
        pub xid: Xid,
        pub r#type: i32,
    }

    /// Precedes every op of a multi request and every result of a multi response.
    pub struct MultiHeader {
        pub r#type: i32,
        pub done: bool,
        pub err: i32,
    }

    pub struct AuthPacket {
        pub r#type: i32,
        pub scheme: String,
        pub auth: Bytes,
    }

    pub struct ReplyHeader {
        pub xid: Xid,
        pub zxid: Zxid,
        pub err: i32,
    }

    pub struct GetDataRequest {
        pub path: String,
        pub watch: bool,
    }

    pub struct SetDataRequest {
        pub path: String,
        pub data: Option<Bytes>,
        pub version: i32,
    }

    /// The Java client sends null for the member lists it does not use.
    pub struct ReconfigRequest {
        pub joining_servers: Option<String>,
        pub leaving_servers: Option<String>,
        pub new_members: Option<String>,
        pub cur_config_id: i64,
    }

    pub struct SetDataResponse {
        pub stat: Stat,
    }

    pub struct GetSaslRequest {
        pub token: Option<Bytes>,
    }

    pub struct SetSaslRequest {
        pub token: Option<Bytes>,
    }

    pub struct SetSaslResponse {
        pub token: Option<Bytes>,
    }

    pub struct CreateRequest {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub flags: i32,
    }

    pub struct CreateTtlRequest {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub flags: i32,
        pub ttl: i64,
    }

    pub struct DeleteRequest {
        pub path: String,
        pub version: i32,
    }

    pub struct GetChildrenRequest {
        pub path: String,
        pub watch: bool,
    }

    pub struct GetAllChildrenNumberRequest {
        pub path: String,
    }

    pub struct GetChildren2Request {
        pub path: String,
        pub watch: bool,
    }

    pub struct CheckVersionRequest {
        pub path: String,
        pub version: i32,
    }

    pub struct GetMaxChildrenRequest {
        pub path: String,
    }

    pub struct GetMaxChildrenResponse {
        pub max: i32,
    }

    pub struct SetMaxChildrenRequest {
        pub path: String,
        pub max: i32,
    }

    pub struct SyncRequest {
        pub path: String,
    }

    pub struct SyncResponse {
        pub path: String,
    }

    pub struct GetAclRequest {
        pub path: String,
    }

    pub struct SetAclRequest {
        pub path: String,
        pub acl: Vec<Acl>,
        pub version: i32,
    }

    pub struct SetAclResponse {
        pub stat: Stat,
    }

    pub struct AddWatchRequest {
        pub path: String,
        pub mode: i32,
    }

    /// A watch notification (sent with xid -1).
    pub struct WatcherEvent {
        pub r#type: i32,
        pub state: i32,
        pub path: String,
    }

    pub struct ErrorResponse {
        pub err: i32,
    }

    pub struct CreateResponse {
        pub path: String,
    }

    pub struct Create2Response {
        pub path: String,
        pub stat: Stat,
    }

    pub struct ExistsRequest {
        pub path: String,
        pub watch: bool,
    }

    pub struct ExistsResponse {
        pub stat: Stat,
    }

    pub struct GetDataResponse {
        pub data: Option<Bytes>,
        pub stat: Stat,
    }

    /// A `GetDataResponse` as a server writes it from a node's shared buffer (the same bytes).
    pub struct GetDataReply {
        pub data: Option<Arc<[u8]>>,
        pub stat: Stat,
    }

    pub struct GetChildrenResponse {
        pub children: Vec<String>,
    }

    pub struct GetAllChildrenNumberResponse {
        pub total_number: i32,
    }

    pub struct GetChildren2Response {
        pub children: Vec<String>,
        pub stat: Stat,
    }

    pub struct GetAclResponse {
        pub acl: Vec<Acl>,
        pub stat: Stat,
    }

    pub struct CheckWatchesRequest {
        pub path: String,
        pub r#type: i32,
    }

    pub struct RemoveWatchesRequest {
        pub path: String,
        pub r#type: i32,
    }

    pub struct GetEphemeralsRequest {
        pub prefix_path: String,
    }

    pub struct GetEphemeralsResponse {
        pub ephemerals: Vec<String>,
    }

    pub struct WhoAmIResponse {
        pub client_info: Vec<ClientInfo>,
    }
}

/// Reads the optional byte that follows a ConnectRequest/ConnectResponse: `None` when the peer is
/// an old client that does not send it.
fn read_trailing_flag<B: Buf>(input: &mut B) -> Option<bool> {
    input.has_remaining().then(|| input.get_u8() != 0)
}

impl ConnectRequest {
    /// Reads the request and the read-only byte newer clients append (`None` when absent).
    pub fn read_with_flag<B: Buf>(input: &mut B) -> Result<(Self, Option<bool>), DecodeError> {
        let request = Self::read(input)?;
        Ok((request, read_trailing_flag(input)))
    }

    /// Writes the request followed by the read-only byte.
    pub fn write_with_flag<B: BufMut>(&self, read_only: bool, out: &mut B) {
        self.write(out);
        read_only.write(out);
    }
}

impl ConnectResponse {
    /// Reads the response and the read-only byte (absent when the client did not send one).
    pub fn read_with_flag<B: Buf>(input: &mut B) -> Result<(Self, Option<bool>), DecodeError> {
        let response = Self::read(input)?;
        Ok((response, read_trailing_flag(input)))
    }

    /// Writes the response and, when the client sent the read-only byte, the server's flag.
    pub fn write_with_flag<B: BufMut>(&self, read_only: Option<bool>, out: &mut B) {
        self.write(out);
        if let Some(flag) = read_only {
            flag.write(out);
        }
    }
}
