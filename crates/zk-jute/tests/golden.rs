//! Golden vectors: bytes written by the real Apache ZooKeeper 3.8.0 Java classes.
//!
//! `tests/golden/GoldenCapture.java` (run by `tests/golden/capture.sh`) builds records with fixed
//! values and serializes them with ZooKeeper's own code; the bytes are committed under
//! `tests/golden/data/`. For every vector this test builds the same value in Rust and checks that
//!
//! * decoding the Java bytes gives exactly that value and consumes every byte, from a contiguous
//!   slice, from a `Bytes`, and from a `Buf` that hands out one byte per chunk;
//! * encoding the value gives exactly the Java bytes.
//!
//! A few vectors are not canonical (Java writes something zk-jute deliberately reads as another
//! value); those check the decoded value and that it encodes to a named canonical vector.

use std::collections::BTreeSet;
use std::fmt::{Debug, Write as _};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use zk_jute::multi::{MultiOp, MultiRequest, MultiResponse, MultiResult};
use zk_jute::persistence::FileHeader;
use zk_jute::proto::*;
use zk_jute::quorum::{
    InitialMessage, LEARNER_PROTOCOL_VERSION, LearnerInfo, Notification, PacketType,
    QuorumAuthPacket, QuorumPacket, ServerState,
};
use zk_jute::txn::*;
use zk_jute::{
    Acl, ClientInfo, CreateMode, DecodeError, FrameDecoder, Id, OpCode, Perms, Record, ServerId,
    SessionId, Stat, StatPersisted, Xid, Zxid, encode_frame,
};

// -------------------------------------------------------------------------------------------
// Harness

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/data")
}

fn load(name: &str) -> Vec<u8> {
    let path = data_dir().join(format!("{name}.bin"));
    std::fs::read(&path).unwrap_or_else(|err| {
        panic!(
            "golden vector tests/golden/data/{name}.bin cannot be read ({err}); \
             regenerate the vectors with tests/golden/capture.sh"
        )
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(text: &str) -> Bytes {
    assert!(text.len() % 2 == 0, "odd hex string {text}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// A `Buf` that exposes one byte per chunk, so a decoder that assumes contiguous input (peeking
/// at `chunk()` for more than it holds) fails.
struct OneByteChunks<'a> {
    data: &'a [u8],
}

impl Buf for OneByteChunks<'_> {
    fn remaining(&self) -> usize {
        self.data.len()
    }

    fn chunk(&self) -> &[u8] {
        &self.data[..self.data.len().min(1)]
    }

    fn advance(&mut self, cnt: usize) {
        assert!(cnt <= self.data.len(), "advance past the end");
        self.data = &self.data[cnt..];
    }
}

/// Something with a golden encoding: a record, or one of the layouts that are not jute records.
trait Golden: Debug + PartialEq + Sized + 'static {
    fn decode<B: Buf>(input: &mut B) -> Result<Self, DecodeError>;
    fn encode(&self) -> Vec<u8>;
}

/// A jute record.
#[derive(Debug, PartialEq)]
struct Rec<T>(T);

impl<T: Record + Debug + PartialEq + 'static> Golden for Rec<T> {
    fn decode<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        T::read(input).map(Rec)
    }

    fn encode(&self) -> Vec<u8> {
        let bytes = self.0.to_bytes();
        assert_eq!(
            bytes.len(),
            self.0.encoded_len(),
            "encoded_len disagrees with write"
        );
        bytes.to_vec()
    }
}

impl Golden for TxnEntry {
    fn decode<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        TxnEntry::read(input)
    }

    fn encode(&self) -> Vec<u8> {
        let bytes = self.to_bytes();
        assert_eq!(
            bytes.len(),
            self.encoded_len(),
            "encoded_len disagrees with write"
        );
        bytes.to_vec()
    }
}

impl Golden for InitialMessage {
    fn decode<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        InitialMessage::read(input)
    }

    fn encode(&self) -> Vec<u8> {
        self.to_bytes().to_vec()
    }
}

/// Notifications are decoded from a whole frame payload (the format is chosen by its length), so
/// the input is gathered first.
impl Golden for Notification {
    fn decode<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        let payload = input.copy_to_bytes(input.remaining());
        Notification::decode(&payload)
    }

    fn encode(&self) -> Vec<u8> {
        let bytes = self.to_bytes();
        assert_eq!(
            bytes.len(),
            self.encoded_len(),
            "encoded_len disagrees with write"
        );
        bytes.to_vec()
    }
}

/// ConnectResponse followed by the read-only byte the server appends.
#[derive(Debug, PartialEq)]
struct ConnectResponseWithFlag(ConnectResponse, Option<bool>);

impl Golden for ConnectResponseWithFlag {
    fn decode<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        let (response, flag) = ConnectResponse::read_with_flag(input)?;
        Ok(ConnectResponseWithFlag(response, flag))
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.0.write_with_flag(self.1, &mut out);
        out
    }
}

/// Takes one whole length-prefixed frame off `input` with the crate's FrameDecoder.
fn read_frame<B: Buf>(input: &mut B) -> Result<Bytes, DecodeError> {
    let mut stream = BytesMut::new();
    stream.put(input);
    let payload = FrameDecoder::default()
        .decode(&mut stream)?
        .ok_or_else(|| DecodeError::InvalidData("incomplete frame".into()))?;
    if !stream.is_empty() {
        return Err(DecodeError::InvalidData(format!(
            "{} bytes after the frame",
            stream.len()
        )));
    }
    Ok(payload)
}

fn expect_consumed(payload: &Bytes) -> Result<(), DecodeError> {
    if payload.has_remaining() {
        return Err(DecodeError::InvalidData(format!(
            "{} bytes left in the frame",
            payload.remaining()
        )));
    }
    Ok(())
}

/// A client's first frame: ConnectRequest and the read-only byte.
#[derive(Debug, PartialEq)]
struct ConnectFrame(ConnectRequest, Option<bool>);

impl Golden for ConnectFrame {
    fn decode<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        let mut payload = read_frame(input)?;
        let (request, flag) = ConnectRequest::read_with_flag(&mut payload)?;
        expect_consumed(&payload)?;
        Ok(ConnectFrame(request, flag))
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode_frame(&mut out, |body| {
            self.0
                .write_with_flag(self.1.expect("the Java client sends the flag"), body)
        });
        out.to_vec()
    }
}

/// A request frame: RequestHeader and a body.
#[derive(Debug, PartialEq)]
struct RequestFrame<T>(RequestHeader, T);

impl<T: Record + Debug + PartialEq + 'static> Golden for RequestFrame<T> {
    fn decode<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        let mut payload = read_frame(input)?;
        let header = RequestHeader::read(&mut payload)?;
        let body = T::read(&mut payload)?;
        expect_consumed(&payload)?;
        Ok(RequestFrame(header, body))
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode_frame(&mut out, |body| {
            self.0.write(body);
            self.1.write(body);
        });
        out.to_vec()
    }
}

/// The absent body of ping and closeSession requests.
#[derive(Debug, PartialEq)]
struct NoBody;

impl Record for NoBody {
    fn write<B: BufMut>(&self, _out: &mut B) {}
    fn read<B: Buf>(_input: &mut B) -> Result<Self, DecodeError> {
        Ok(NoBody)
    }
    fn encoded_len(&self) -> usize {
        0
    }
}

/// Decodes `bytes` three ways; every way must give `expected` and consume every byte.
fn check_decode<T: Golden>(name: &str, expected: &T, bytes: &[u8]) {
    let mut slice = bytes;
    let decoded = T::decode(&mut slice)
        .unwrap_or_else(|err| panic!("{name}: decoding the Java bytes failed: {err}"));
    assert_eq!(&decoded, expected, "{name}: decoded value differs");
    assert!(
        slice.is_empty(),
        "{name}: {} bytes left after decoding",
        slice.len()
    );

    let mut shared = Bytes::copy_from_slice(bytes);
    let decoded = T::decode(&mut shared)
        .unwrap_or_else(|err| panic!("{name}: decoding from Bytes failed: {err}"));
    assert_eq!(
        &decoded, expected,
        "{name}: decoded value (from Bytes) differs"
    );
    assert_eq!(shared.remaining(), 0, "{name}: bytes left (from Bytes)");

    let mut chunks = OneByteChunks { data: bytes };
    let decoded = T::decode(&mut chunks)
        .unwrap_or_else(|err| panic!("{name}: decoding one byte per chunk failed: {err}"));
    assert_eq!(
        &decoded, expected,
        "{name}: decoded value (one byte per chunk) differs"
    );
    assert_eq!(
        chunks.remaining(),
        0,
        "{name}: bytes left (one byte per chunk)"
    );
}

fn check_encode<T: Golden>(name: &str, value: &T, java: &[u8]) {
    let encoded = value.encode();
    assert!(
        encoded == java,
        "{name}: encoding differs from the Java bytes\n java: {}\n rust: {}",
        hex(java),
        hex(&encoded)
    );
}

/// Checks the bytes of one vector, panicking with the vector's name on a difference.
type Check = Box<dyn Fn(&[u8])>;

struct Vector {
    name: &'static str,
    /// Other vector files the check reads.
    companions: Vec<&'static str>,
    check: Check,
}

/// A canonical vector: decoding gives `expected`, encoding `expected` gives the bytes.
fn exact<T: Golden>(name: &'static str, expected: T) -> Vector {
    Vector {
        name,
        companions: Vec::new(),
        check: Box::new(move |bytes| {
            check_decode(name, &expected, bytes);
            check_encode(name, &expected, bytes);
        }),
    }
}

fn rec<T: Record + Debug + PartialEq + 'static>(name: &'static str, expected: T) -> Vector {
    exact(name, Rec(expected))
}

/// A non-canonical vector: it decodes to `expected`, which encodes to the vector `canonical`.
fn decodes_as<T: Golden>(name: &'static str, expected: T, canonical: &'static str) -> Vector {
    Vector {
        name,
        companions: vec![canonical],
        check: Box::new(move |bytes| {
            check_decode(name, &expected, bytes);
            check_encode(name, &expected, &load(canonical));
        }),
    }
}

/// A vector with a check of its own.
fn custom(
    name: &'static str,
    companions: Vec<&'static str>,
    check: impl Fn(&[u8]) + 'static,
) -> Vector {
    Vector {
        name,
        companions,
        check: Box::new(check),
    }
}

/// Runs every vector and reports all the failing ones by name.
fn run(vectors: Vec<Vector>) {
    let mut failures = Vec::new();
    for vector in &vectors {
        let bytes = match catch_unwind(|| load(vector.name)) {
            Ok(bytes) => bytes,
            Err(_) => {
                failures.push(format!(
                    "{}: tests/golden/data/{}.bin is missing (run tests/golden/capture.sh)",
                    vector.name, vector.name
                ));
                continue;
            }
        };
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| (vector.check)(&bytes))) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{}: {message}", vector.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden vectors failed:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
}

// -------------------------------------------------------------------------------------------
// Values shared with GoldenCapture.java

const UNICODE_PATH: &str = "/配置/ñandú-€";
const SASL_ID: &str = "José@ÉXAMPLE.COM";
const DIGEST_ID: &str = "alice:XHlwMVHKTf0Ds/GC8qvMZ5aHJrA=";
const SESSION: SessionId = SessionId(0x0100_0004_dcfd_0003);

fn passwd() -> Bytes {
    unhex("464844a2d2b6fafa6affb6a7385ca56d")
}

fn b(text: &str) -> Option<Bytes> {
    Some(Bytes::copy_from_slice(text.as_bytes()))
}

fn s(text: &str) -> String {
    text.to_owned()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| s(item)).collect()
}

fn open_acl() -> Vec<Acl> {
    Acl::open_unsafe()
}

fn mixed_acl() -> Vec<Acl> {
    vec![
        Acl::new(Perms::ALL, Id::new("digest", DIGEST_ID)),
        Acl::new(Perms::READ, Id::new("ip", "10.0.0.0/8")),
        Acl::new(Perms::READ | Perms::ADMIN, Id::new("sasl", SASL_ID)),
    ]
}

fn stat() -> Stat {
    Stat {
        czxid: Zxid(0x1_0000_0002),
        mzxid: Zxid(0x1_0000_0007),
        ctime: 1_700_000_000_123,
        mtime: 1_700_000_456_789,
        version: 3,
        cversion: 4,
        aversion: 1,
        ephemeral_owner: SESSION.0,
        data_length: 11,
        num_children: 2,
        pzxid: Zxid(0x1_0000_0005),
    }
}

fn stat_extremes() -> Stat {
    Stat {
        czxid: Zxid(i64::MIN),
        mzxid: Zxid(i64::MAX),
        ctime: i64::MIN,
        mtime: i64::MAX,
        version: i32::MIN,
        cversion: -1,
        aversion: i32::MAX,
        ephemeral_owner: i64::MIN,
        data_length: 0,
        num_children: 0,
        pzxid: Zxid(-1),
    }
}

fn stat_node() -> Stat {
    Stat {
        czxid: Zxid(0x2_0000_0010),
        mzxid: Zxid(0x2_0000_0010),
        ctime: 1_700_000_999_000,
        mtime: 1_700_000_999_000,
        version: 0,
        cversion: 0,
        aversion: 0,
        ephemeral_owner: 0,
        data_length: 5,
        num_children: 0,
        pzxid: Zxid(0x2_0000_0010),
    }
}

fn header(client_id: SessionId, cxid: i32, zxid: i64, time: i64, op: OpCode) -> TxnHeader {
    TxnHeader {
        client_id,
        cxid,
        zxid: Zxid(zxid),
        time,
        r#type: op.code(),
    }
}

fn digest(tree_digest: i64) -> Option<TxnDigest> {
    Some(TxnDigest {
        version: 2,
        tree_digest,
    })
}

// -------------------------------------------------------------------------------------------
// data

fn data_vectors() -> Vec<Vector> {
    let supplementary_reread = Id::new("sasl", "emoji-\u{FFFD}\u{FFFD}-end");
    vec![
        rec("data_id", Id::new("digest", DIGEST_ID)),
        rec(
            "data_id_unicode",
            Id::new("sasl", format!("{SASL_ID} — 東京")),
        ),
        rec("data_id_empty", Id::new("auth", "")),
        rec("data_acl", Acl::new(Perms::ALL, Id::anyone())),
        rec(
            "data_acl_negative_perms",
            Acl {
                perms: -1,
                id: Id::new("ip", "192.168.1.0/24"),
            },
        ),
        rec("data_stat", stat()),
        rec("data_stat_extremes", stat_extremes()),
        rec(
            "data_stat_persisted",
            StatPersisted {
                czxid: Zxid(0x3_0000_0001),
                mzxid: Zxid(0x3_0000_0004),
                ctime: 1_700_000_000_000,
                mtime: 1_700_000_001_000,
                version: 2,
                cversion: 7,
                aversion: 0,
                ephemeral_owner: SESSION.0,
                pzxid: Zxid(0x3_0000_0009),
            },
        ),
        rec(
            "data_stat_persisted_container",
            StatPersisted {
                czxid: Zxid(i64::MAX),
                mzxid: Zxid(0),
                ctime: -1,
                mtime: 0,
                version: -1,
                cversion: -2,
                aversion: i32::MIN,
                ephemeral_owner: i64::MIN,
                pzxid: Zxid(i64::MIN),
            },
        ),
        rec(
            "data_client_info",
            ClientInfo {
                auth_scheme: s("ip"),
                user: s("127.0.0.1"),
            },
        ),
        // Java writes a supplementary character as two 3-byte surrogates, which Java's own reader
        // turns into two U+FFFD: zk-jute reads the same text.
        decodes_as(
            "data_id_supplementary",
            Rec(supplementary_reread.clone()),
            "data_id_supplementary_java_reread",
        ),
        rec("data_id_supplementary_java_reread", supplementary_reread),
        custom(
            "data_strings_malformed",
            vec!["data_strings_malformed_java_decoded"],
            check_malformed_strings,
        ),
    ]
}

/// `data_strings_malformed` holds ustrings of malformed UTF-8; the companion holds the text Java
/// decoded from each, as standard UTF-8. zk-jute must read exactly Java's text.
fn check_malformed_strings(bytes: &[u8]) {
    let java = load("data_strings_malformed_java_decoded");
    let mut input = bytes;
    let mut decoded = &java[..];
    let count = input.get_i32();
    assert_eq!(count, decoded.get_i32(), "case counts differ");
    assert!(count > 20, "too few cases: {count}");
    for case in 0..count {
        let raw_len = (&input[..4]).get_i32() as usize;
        let raw = hex(&input[4..4 + raw_len]);
        let ours = String::read(&mut input).expect("a malformed ustring still decodes");
        let len = decoded.get_i32() as usize;
        let theirs = std::str::from_utf8(&decoded[..len]).expect("Java's text is UTF-8");
        decoded.advance(len);
        assert_eq!(
            ours, theirs,
            "case {case} (bytes {raw}): zk-jute and Java decode differently"
        );
        // Nullable strings share the decoder.
        let mut framed = Vec::new();
        (raw_len as i32).write(&mut framed);
        framed.extend_from_slice(&unhex(&raw));
        let mut chunks = OneByteChunks { data: &framed };
        assert_eq!(
            Option::<String>::read(&mut chunks).unwrap().as_deref(),
            Some(theirs),
            "case {case} (bytes {raw}): nullable string, one byte per chunk"
        );
    }
    assert!(input.is_empty() && decoded.is_empty(), "trailing bytes");
}

// -------------------------------------------------------------------------------------------
// proto

fn proto_vectors() -> Vec<Vector> {
    let empty = Some(Bytes::new());
    vec![
        rec(
            "proto_connect_request",
            ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: Zxid(0),
                time_out: 30_000,
                session_id: SessionId(0),
                passwd: Bytes::from_static(&[0; 16]),
            },
        ),
        rec(
            "proto_connect_request_resume",
            ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: Zxid(0x1_0000_0005),
                time_out: 40_000,
                session_id: SESSION,
                passwd: passwd(),
            },
        ),
        rec(
            "proto_connect_response",
            ConnectResponse {
                protocol_version: 0,
                time_out: 30_000,
                session_id: SESSION,
                passwd: passwd(),
            },
        ),
        exact(
            "proto_connect_response_with_flag",
            ConnectResponseWithFlag(
                ConnectResponse {
                    protocol_version: 0,
                    time_out: 30_000,
                    session_id: SESSION,
                    passwd: passwd(),
                },
                Some(false),
            ),
        ),
        exact(
            "proto_connect_response_expired",
            ConnectResponseWithFlag(
                ConnectResponse {
                    protocol_version: 0,
                    time_out: 0,
                    session_id: SessionId(0),
                    passwd: Bytes::from_static(&[0; 16]),
                },
                Some(false),
            ),
        ),
        exact(
            "proto_connect_response_readonly",
            ConnectResponseWithFlag(
                ConnectResponse {
                    protocol_version: 0,
                    time_out: 4_000,
                    session_id: SessionId(0x0200_0000_0000_0001),
                    passwd: passwd(),
                },
                Some(true),
            ),
        ),
        rec(
            "proto_set_watches",
            SetWatches {
                relative_zxid: Zxid(0x1_0000_0007),
                data_watches: strings(&["/app/config", UNICODE_PATH]),
                exist_watches: strings(&["/app/lock"]),
                child_watches: strings(&["/app", "/"]),
            },
        ),
        rec("proto_set_watches_empty", SetWatches::default()),
        // Java's null lists (count -1) read as empty lists.
        decodes_as(
            "proto_set_watches_null_lists",
            Rec(SetWatches::default()),
            "proto_set_watches_empty",
        ),
        rec(
            "proto_set_watches2",
            SetWatches2 {
                relative_zxid: Zxid(0x1_0000_0007),
                data_watches: strings(&["/a"]),
                exist_watches: Vec::new(),
                child_watches: strings(&["/b", "/c"]),
                persistent_watches: strings(&["/persistent"]),
                persistent_recursive_watches: strings(&["/", UNICODE_PATH]),
            },
        ),
        rec(
            "proto_request_header",
            RequestHeader {
                xid: Xid(7),
                r#type: OpCode::GetData.code(),
            },
        ),
        rec(
            "proto_request_header_ping",
            RequestHeader {
                xid: Xid::PING,
                r#type: OpCode::Ping.code(),
            },
        ),
        rec(
            "proto_request_header_extremes",
            RequestHeader {
                xid: Xid(i32::MAX),
                r#type: i32::MIN,
            },
        ),
        rec(
            "proto_multi_header",
            MultiHeader {
                r#type: OpCode::SetData.code(),
                done: false,
                err: -1,
            },
        ),
        rec(
            "proto_multi_header_done",
            MultiHeader {
                r#type: -1,
                done: true,
                err: -1,
            },
        ),
        rec(
            "proto_auth_packet",
            AuthPacket {
                r#type: 0,
                scheme: s("digest"),
                auth: Bytes::from_static(b"alice:secret"),
            },
        ),
        rec(
            "proto_auth_packet_empty",
            AuthPacket {
                r#type: 0,
                scheme: s("ip"),
                auth: Bytes::new(),
            },
        ),
        rec(
            "proto_reply_header",
            ReplyHeader {
                xid: Xid(7),
                zxid: Zxid(0x1_0000_0007),
                err: 0,
            },
        ),
        rec(
            "proto_reply_header_notification",
            ReplyHeader {
                xid: Xid::NOTIFICATION,
                zxid: Zxid(-1),
                err: 0,
            },
        ),
        rec(
            "proto_reply_header_error",
            ReplyHeader {
                xid: Xid(3),
                zxid: Zxid(0x1_0000_0008),
                err: zk_jute::ErrorCode::NoNode.code(),
            },
        ),
        rec(
            "proto_get_data_request",
            GetDataRequest {
                path: s("/app/config"),
                watch: true,
            },
        ),
        rec(
            "proto_set_data_request",
            SetDataRequest {
                path: s("/app/config"),
                data: b("key=value\n"),
                version: 3,
            },
        ),
        rec(
            "proto_set_data_request_null_data",
            SetDataRequest {
                path: s(UNICODE_PATH),
                data: None,
                version: -1,
            },
        ),
        rec(
            "proto_reconfig_request_incremental",
            ReconfigRequest {
                joining_servers: Some(s("server.4=10.0.0.4:2888:3888:participant;2181")),
                leaving_servers: Some(s("2")),
                new_members: None,
                cur_config_id: -1,
            },
        ),
        rec(
            "proto_reconfig_request_members",
            ReconfigRequest {
                joining_servers: None,
                leaving_servers: None,
                new_members: Some(s(
                    "server.1=10.0.0.1:2888:3888;2181,server.2=10.0.0.2:2888:3888;2181",
                )),
                cur_config_id: 0x1_0000_0000,
            },
        ),
        rec(
            "proto_reconfig_request_all_null",
            ReconfigRequest {
                joining_servers: None,
                leaving_servers: None,
                new_members: None,
                cur_config_id: i64::MIN,
            },
        ),
        rec("proto_set_data_response", SetDataResponse { stat: stat() }),
        rec(
            "proto_get_sasl_request",
            GetSaslRequest {
                token: Some(unhex("60820132")),
            },
        ),
        rec(
            "proto_set_sasl_request",
            SetSaslRequest {
                token: Some(unhex("0102030405")),
            },
        ),
        rec(
            "proto_set_sasl_response",
            SetSaslResponse {
                token: Some(unhex("a1b2c3")),
            },
        ),
        rec(
            "proto_set_sasl_response_null",
            SetSaslResponse { token: None },
        ),
        rec(
            "proto_create_request",
            CreateRequest {
                path: s("/app/workers/w-"),
                data: b("worker"),
                acl: open_acl(),
                flags: CreateMode::EphemeralSequential.code(),
            },
        ),
        rec(
            "proto_create_request_unicode",
            CreateRequest {
                path: s(UNICODE_PATH),
                data: empty.clone(),
                acl: mixed_acl(),
                flags: CreateMode::Persistent.code(),
            },
        ),
        rec(
            "proto_create_request_null_data",
            CreateRequest {
                path: s("/n"),
                data: None,
                acl: open_acl(),
                flags: CreateMode::Container.code(),
            },
        ),
        rec(
            "proto_create_request_empty_acl",
            CreateRequest {
                path: s("/e"),
                data: Some(unhex("00ff")),
                acl: Vec::new(),
                flags: 0,
            },
        ),
        rec(
            "proto_create_ttl_request",
            CreateTtlRequest {
                path: s("/ttl/node"),
                data: b("t"),
                acl: open_acl(),
                flags: CreateMode::PersistentWithTtl.code(),
                ttl: 3_600_000,
            },
        ),
        rec(
            "proto_create_ttl_request_max",
            CreateTtlRequest {
                path: s("/ttl/seq-"),
                data: None,
                acl: open_acl(),
                flags: CreateMode::PersistentSequentialWithTtl.code(),
                ttl: 0xFF_FFFF_FFFF,
            },
        ),
        rec(
            "proto_delete_request",
            DeleteRequest {
                path: s("/app/old"),
                version: -1,
            },
        ),
        rec(
            "proto_get_children_request",
            GetChildrenRequest {
                path: s("/app"),
                watch: false,
            },
        ),
        rec(
            "proto_get_all_children_number_request",
            GetAllChildrenNumberRequest { path: s("/") },
        ),
        rec(
            "proto_get_children2_request",
            GetChildren2Request {
                path: s(UNICODE_PATH),
                watch: true,
            },
        ),
        rec(
            "proto_check_version_request",
            CheckVersionRequest {
                path: s("/app/config"),
                version: 3,
            },
        ),
        rec(
            "proto_get_max_children_request",
            GetMaxChildrenRequest { path: s("/app") },
        ),
        rec(
            "proto_get_max_children_response",
            GetMaxChildrenResponse { max: 100 },
        ),
        rec(
            "proto_set_max_children_request",
            SetMaxChildrenRequest {
                path: s("/app"),
                max: -1,
            },
        ),
        rec("proto_sync_request", SyncRequest { path: s("/app") }),
        rec("proto_sync_response", SyncResponse { path: s("/app") }),
        rec(
            "proto_get_acl_request",
            GetAclRequest {
                path: s("/app/secure"),
            },
        ),
        rec(
            "proto_set_acl_request",
            SetAclRequest {
                path: s("/app/secure"),
                acl: mixed_acl(),
                version: 0,
            },
        ),
        rec("proto_set_acl_response", SetAclResponse { stat: stat() }),
        rec(
            "proto_add_watch_request",
            AddWatchRequest {
                path: s("/app"),
                mode: zk_jute::AddWatchMode::PersistentRecursive.code(),
            },
        ),
        rec(
            "proto_watcher_event",
            WatcherEvent {
                r#type: zk_jute::EventType::NodeDataChanged.code(),
                state: zk_jute::KeeperState::SyncConnected.code(),
                path: s("/m1"),
            },
        ),
        rec(
            "proto_watcher_event_unicode",
            WatcherEvent {
                r#type: zk_jute::EventType::NodeChildrenChanged.code(),
                state: zk_jute::KeeperState::SyncConnected.code(),
                path: s(UNICODE_PATH),
            },
        ),
        rec(
            "proto_watcher_event_none",
            WatcherEvent {
                r#type: zk_jute::EventType::None.code(),
                state: zk_jute::KeeperState::Expired.code(),
                path: String::new(),
            },
        ),
        rec("proto_error_response", ErrorResponse { err: 0 }),
        rec(
            "proto_error_response_nowatcher",
            ErrorResponse {
                err: zk_jute::ErrorCode::NoWatcher.code(),
            },
        ),
        rec(
            "proto_create_response",
            CreateResponse {
                path: s("/app/workers/w-0000000007"),
            },
        ),
        rec(
            "proto_create2_response",
            Create2Response {
                path: s("/app/workers/w-0000000007"),
                stat: stat(),
            },
        ),
        rec(
            "proto_exists_request",
            ExistsRequest {
                path: s("/app/missing"),
                watch: true,
            },
        ),
        rec(
            "proto_exists_response",
            ExistsResponse {
                stat: stat_extremes(),
            },
        ),
        rec(
            "proto_get_data_response",
            GetDataResponse {
                data: b("key=value\n"),
                stat: stat(),
            },
        ),
        rec(
            "proto_get_data_response_null_data",
            GetDataResponse {
                data: None,
                stat: stat_node(),
            },
        ),
        rec(
            "proto_get_data_response_empty_data",
            GetDataResponse {
                data: empty,
                stat: stat_node(),
            },
        ),
        rec(
            "proto_get_children_response",
            GetChildrenResponse {
                children: strings(&["zookeeper", "app", "配置"]),
            },
        ),
        rec(
            "proto_get_children_response_empty",
            GetChildrenResponse::default(),
        ),
        rec(
            "proto_get_all_children_number_response",
            GetAllChildrenNumberResponse { total_number: 8 },
        ),
        rec(
            "proto_get_children2_response",
            GetChildren2Response {
                children: strings(&["a", "b"]),
                stat: stat(),
            },
        ),
        rec(
            "proto_get_acl_response",
            GetAclResponse {
                acl: mixed_acl(),
                stat: stat(),
            },
        ),
        rec(
            "proto_check_watches_request",
            CheckWatchesRequest {
                path: s("/app"),
                r#type: zk_jute::WatcherType::Data.code(),
            },
        ),
        rec(
            "proto_remove_watches_request",
            RemoveWatchesRequest {
                path: s("/app"),
                r#type: zk_jute::WatcherType::Any.code(),
            },
        ),
        rec(
            "proto_get_ephemerals_request",
            GetEphemeralsRequest {
                prefix_path: s("/app/workers"),
            },
        ),
        rec(
            "proto_get_ephemerals_response",
            GetEphemeralsResponse {
                ephemerals: strings(&["/app/workers/w-0000000007", "/app/lock"]),
            },
        ),
        rec(
            "proto_who_am_i_response",
            WhoAmIResponse {
                client_info: vec![
                    ClientInfo {
                        auth_scheme: s("ip"),
                        user: s("127.0.0.1"),
                    },
                    ClientInfo {
                        auth_scheme: s("digest"),
                        user: s("alice"),
                    },
                ],
            },
        ),
        rec("proto_who_am_i_response_empty", WhoAmIResponse::default()),
    ]
}

// -------------------------------------------------------------------------------------------
// client frames (ClientCnxn.Packet.createBB)

fn frame_vectors() -> Vec<Vector> {
    vec![
        exact(
            "frame_connect",
            ConnectFrame(
                ConnectRequest {
                    protocol_version: 0,
                    last_zxid_seen: Zxid(0),
                    time_out: 30_000,
                    session_id: SessionId(0),
                    passwd: Bytes::from_static(&[0; 16]),
                },
                Some(false),
            ),
        ),
        exact(
            "frame_connect_readonly",
            ConnectFrame(
                ConnectRequest {
                    protocol_version: 0,
                    last_zxid_seen: Zxid(0x1_0000_0005),
                    time_out: 40_000,
                    session_id: SESSION,
                    passwd: passwd(),
                },
                Some(true),
            ),
        ),
        exact(
            "frame_ping",
            RequestFrame(
                RequestHeader {
                    xid: Xid::PING,
                    r#type: OpCode::Ping.code(),
                },
                NoBody,
            ),
        ),
        exact(
            "frame_create2",
            RequestFrame(
                RequestHeader {
                    xid: Xid(2),
                    r#type: OpCode::Create2.code(),
                },
                CreateRequest {
                    path: s("/m1"),
                    data: b("v"),
                    acl: open_acl(),
                    flags: 0,
                },
            ),
        ),
        exact(
            "frame_close_session",
            RequestFrame(
                RequestHeader {
                    xid: Xid(9),
                    r#type: OpCode::CloseSession.code(),
                },
                NoBody,
            ),
        ),
    ]
}

// -------------------------------------------------------------------------------------------
// txn

fn sub(op: OpCode, body: TxnBody) -> Txn {
    Txn::new(op.code(), &body)
}

fn multi_txn() -> MultiTxn {
    MultiTxn {
        txns: vec![
            sub(
                OpCode::Create,
                TxnBody::Create(CreateTxn {
                    path: s("/m/a"),
                    data: b("1"),
                    acl: open_acl(),
                    ephemeral: false,
                    parent_c_version: 1,
                }),
            ),
            sub(
                OpCode::CreateContainer,
                TxnBody::CreateContainer(CreateContainerTxn {
                    path: s("/m/c"),
                    data: None,
                    acl: open_acl(),
                    parent_c_version: 2,
                }),
            ),
            sub(
                OpCode::CreateTtl,
                TxnBody::CreateTtl(CreateTtlTxn {
                    path: s("/m/t"),
                    data: Some(Bytes::new()),
                    acl: open_acl(),
                    parent_c_version: 3,
                    ttl: 60_000,
                }),
            ),
            sub(
                OpCode::Delete,
                TxnBody::Delete(DeleteTxn { path: s("/m/old") }),
            ),
            sub(
                OpCode::SetData,
                TxnBody::SetData(SetDataTxn {
                    path: s("/m"),
                    data: b("x"),
                    version: 5,
                }),
            ),
            sub(
                OpCode::Check,
                TxnBody::Check(CheckVersionTxn {
                    path: s("/m"),
                    version: 5,
                }),
            ),
        ],
    }
}

fn failed_multi_txn() -> MultiTxn {
    MultiTxn {
        txns: [0, zk_jute::ErrorCode::NoNode.code(), -2]
            .into_iter()
            .map(|err| sub(OpCode::Error, TxnBody::Error(ErrorTxn { err })))
            .collect(),
    }
}

fn create_txn_worker() -> CreateTxn {
    CreateTxn {
        path: s("/app/workers/w-0000000007"),
        data: b("worker"),
        acl: open_acl(),
        ephemeral: true,
        parent_c_version: 8,
    }
}

fn txn_vectors() -> Vec<Vector> {
    vec![
        rec(
            "txn_header",
            header(
                SESSION,
                0,
                0x1_0000_0001,
                1_700_000_000_123,
                OpCode::CreateSession,
            ),
        ),
        rec(
            "txn_header_extremes",
            header(SessionId(i64::MIN), -1, i64::MAX, -1, OpCode::Error),
        ),
        rec("txn_digest", digest(1_371_985_504).unwrap()),
        rec("txn_digest_negative", digest(i64::MIN).unwrap()),
        custom("txn_create_v0", Vec::new(), |bytes| {
            let v0 = CreateTxnV0 {
                path: s("/legacy"),
                data: b("old"),
                acl: open_acl(),
                ephemeral: false,
            };
            check_decode("txn_create_v0", &Rec(v0.clone()), bytes);
            check_encode("txn_create_v0", &Rec(v0), bytes);
            // Through the txn rules a create body written before 3.3 becomes a CreateTxn with
            // parentCVersion -1, as SerializeUtils.deserializeTxn does.
            let body =
                TxnBody::read(OpCode::Create.code(), &mut OneByteChunks { data: bytes }).unwrap();
            assert_eq!(
                body,
                TxnBody::Create(CreateTxn {
                    path: s("/legacy"),
                    data: b("old"),
                    acl: open_acl(),
                    ephemeral: false,
                    parent_c_version: -1,
                })
            );
        }),
        rec("txn_create", create_txn_worker()),
        rec(
            "txn_create_null_data",
            CreateTxn {
                path: s(UNICODE_PATH),
                data: None,
                acl: mixed_acl(),
                ephemeral: false,
                parent_c_version: -1,
            },
        ),
        rec(
            "txn_create_ttl",
            CreateTtlTxn {
                path: s("/ttl/node"),
                data: b("t"),
                acl: open_acl(),
                parent_c_version: 1,
                ttl: 3_600_000,
            },
        ),
        rec(
            "txn_create_container",
            CreateContainerTxn {
                path: s("/container"),
                data: Some(Bytes::new()),
                acl: open_acl(),
                parent_c_version: 2,
            },
        ),
        rec(
            "txn_delete",
            DeleteTxn {
                path: s("/app/old"),
            },
        ),
        rec(
            "txn_set_data",
            SetDataTxn {
                path: s("/app/config"),
                data: b("key=value\n"),
                version: 4,
            },
        ),
        rec(
            "txn_set_data_null",
            SetDataTxn {
                path: s("/app/config"),
                data: None,
                version: i32::MAX,
            },
        ),
        rec(
            "txn_check_version",
            CheckVersionTxn {
                path: s("/app/config"),
                version: 4,
            },
        ),
        rec(
            "txn_set_acl",
            SetAclTxn {
                path: s("/app/secure"),
                acl: mixed_acl(),
                version: 1,
            },
        ),
        rec(
            "txn_set_max_children",
            SetMaxChildrenTxn {
                path: s("/app"),
                max: 10,
            },
        ),
        rec("txn_create_session", CreateSessionTxn { time_out: 30_000 }),
        rec(
            "txn_close_session",
            CloseSessionTxn {
                paths2_delete: strings(&["/app/lock", "/app/workers/w-0000000007"]),
            },
        ),
        rec("txn_close_session_empty", CloseSessionTxn::default()),
        rec(
            "txn_error",
            ErrorTxn {
                err: zk_jute::ErrorCode::NodeExists.code(),
            },
        ),
        rec(
            "txn_txn",
            sub(
                OpCode::Delete,
                TxnBody::Delete(DeleteTxn {
                    path: s("/app/old"),
                }),
            ),
        ),
        custom("txn_multi", Vec::new(), |bytes| {
            let expected = multi_txn();
            check_decode("txn_multi", &Rec(expected.clone()), bytes);
            check_encode("txn_multi", &Rec(expected.clone()), bytes);
            // Every sub-txn body reads back through the multi rules (check allowed).
            let bodies: Vec<TxnBody> = expected
                .txns
                .iter()
                .map(|txn| TxnBody::read_sub(txn).expect("sub-txn decodes"))
                .collect();
            assert!(matches!(bodies[0], TxnBody::Create(_)));
            assert!(matches!(bodies[5], TxnBody::Check(_)));
            for (txn, body) in expected.txns.iter().zip(&bodies) {
                assert_eq!(Txn::new(txn.r#type, body), *txn, "sub-txn re-encodes");
            }
        }),
        rec("txn_multi_failed", failed_multi_txn()),
        rec("txn_multi_empty", MultiTxn::default()),
    ]
}

// -------------------------------------------------------------------------------------------
// txn log payloads (persistence.Util.marshallTxnEntry)

fn entry(header: TxnHeader, body: TxnBody, digest: Option<TxnDigest>) -> TxnEntry {
    TxnEntry {
        header,
        body,
        digest,
    }
}

fn txn_entry_vectors() -> Vec<Vector> {
    vec![
        exact(
            "txn_entry_create_session",
            entry(
                header(SESSION, 0, 1, 1_700_000_000_123, OpCode::CreateSession),
                TxnBody::CreateSession(CreateSessionTxn { time_out: 30_000 }),
                digest(1_371_985_504),
            ),
        ),
        exact(
            "txn_entry_create",
            entry(
                header(
                    SESSION,
                    5,
                    0x1_0000_0009,
                    1_700_000_000_456,
                    OpCode::Create2,
                ),
                TxnBody::Create(create_txn_worker()),
                digest(-4_242_424_242_424_242),
            ),
        ),
        exact(
            "txn_entry_multi",
            entry(
                header(SESSION, 6, 0x1_0000_000a, 1_700_000_000_789, OpCode::Multi),
                TxnBody::Multi(multi_txn()),
                digest(99),
            ),
        ),
        exact(
            "txn_entry_multi_failed",
            entry(
                header(SESSION, 7, 0x1_0000_000b, 1_700_000_000_790, OpCode::Multi),
                TxnBody::Multi(failed_multi_txn()),
                digest(99),
            ),
        ),
        exact(
            "txn_entry_error",
            entry(
                header(SESSION, 8, 0x1_0000_000c, 1_700_000_000_800, OpCode::Error),
                TxnBody::Error(ErrorTxn {
                    err: zk_jute::ErrorCode::NodeExists.code(),
                }),
                None,
            ),
        ),
        exact(
            "txn_entry_close_session",
            entry(
                header(
                    SESSION,
                    9,
                    0x1_0000_000d,
                    1_700_000_000_900,
                    OpCode::CloseSession,
                ),
                TxnBody::CloseSession(Some(CloseSessionTxn {
                    paths2_delete: strings(&["/app/lock"]),
                })),
                digest(1),
            ),
        ),
        exact(
            "txn_entry_close_session_legacy",
            entry(
                header(
                    SESSION,
                    0,
                    0x1_0000_000e,
                    1_700_000_000_901,
                    OpCode::CloseSession,
                ),
                TxnBody::CloseSession(None),
                None,
            ),
        ),
        exact(
            "txn_entry_reconfig",
            entry(
                header(
                    SESSION,
                    10,
                    0x1_0000_000f,
                    1_700_000_000_902,
                    OpCode::Reconfig,
                ),
                TxnBody::SetData(SetDataTxn {
                    path: s("/zookeeper/config"),
                    data: b(
                        "server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181\nversion=10000000f",
                    ),
                    version: -1,
                }),
                digest(7),
            ),
        ),
        exact(
            "txn_entry_delete_container",
            entry(
                header(
                    SessionId(0),
                    0,
                    0x1_0000_0010,
                    1_700_000_000_903,
                    OpCode::DeleteContainer,
                ),
                TxnBody::Delete(DeleteTxn {
                    path: s("/container"),
                }),
                digest(8),
            ),
        ),
        exact(
            "txn_entry_set_acl",
            entry(
                header(
                    SESSION,
                    11,
                    0x1_0000_0011,
                    1_700_000_000_904,
                    OpCode::SetAcl,
                ),
                TxnBody::SetAcl(SetAclTxn {
                    path: s("/app/secure"),
                    acl: mixed_acl(),
                    version: 2,
                }),
                digest(9),
            ),
        ),
        exact(
            "txn_entry_create_ttl",
            entry(
                header(
                    SESSION,
                    12,
                    0x1_0000_0012,
                    1_700_000_000_905,
                    OpCode::CreateTtl,
                ),
                TxnBody::CreateTtl(CreateTtlTxn {
                    path: s("/ttl/node"),
                    data: None,
                    acl: open_acl(),
                    parent_c_version: 3,
                    ttl: 3_600_000,
                }),
                digest(10),
            ),
        ),
        exact(
            "txn_entry_create_container",
            entry(
                header(
                    SESSION,
                    13,
                    0x1_0000_0013,
                    1_700_000_000_906,
                    OpCode::CreateContainer,
                ),
                TxnBody::CreateContainer(CreateContainerTxn {
                    path: s("/container"),
                    data: Some(Bytes::new()),
                    acl: open_acl(),
                    parent_c_version: 4,
                }),
                digest(11),
            ),
        ),
        exact(
            "txn_entry_delete",
            entry(
                header(
                    SESSION,
                    14,
                    0x1_0000_0014,
                    1_700_000_000_907,
                    OpCode::Delete,
                ),
                TxnBody::Delete(DeleteTxn {
                    path: s("/app/old"),
                }),
                digest(12),
            ),
        ),
    ]
}

// -------------------------------------------------------------------------------------------
// quorum

fn proposal_entry() -> TxnEntry {
    entry(
        header(
            SESSION,
            5,
            0x1_0000_0009,
            1_700_000_000_456,
            OpCode::SetData,
        ),
        TxnBody::SetData(SetDataTxn {
            path: s("/app/config"),
            data: b("v2"),
            version: 4,
        }),
        digest(123_456_789),
    )
}

fn learner_info() -> LearnerInfo {
    LearnerInfo {
        server_id: ServerId(3),
        protocol_version: LEARNER_PROTOCOL_VERSION,
        config_version: 0x1_0000_0000,
    }
}

fn quorum_vectors() -> Vec<Vector> {
    let mut request = BytesMut::new();
    SESSION.write(&mut request);
    5i32.write(&mut request);
    OpCode::Delete.code().write(&mut request);
    DeleteRequest {
        path: s("/app/old"),
        version: -1,
    }
    .write(&mut request);

    vec![
        custom("quorum_packet_proposal", Vec::new(), |bytes| {
            let packet = QuorumPacket {
                r#type: PacketType::Proposal.code(),
                zxid: Zxid(0x1_0000_0009),
                data: Some(proposal_entry().to_bytes()),
                authinfo: None,
            };
            check_decode("quorum_packet_proposal", &Rec(packet.clone()), bytes);
            check_encode("quorum_packet_proposal", &Rec(packet.clone()), bytes);
            // The data is a txn log payload.
            let data = packet.data.unwrap();
            check_decode("quorum_packet_proposal data", &proposal_entry(), &data);
        }),
        rec(
            "quorum_packet_ack",
            QuorumPacket {
                r#type: PacketType::Ack.code(),
                zxid: Zxid(0x1_0000_0009),
                data: None,
                authinfo: None,
            },
        ),
        rec(
            "quorum_packet_uptodate",
            QuorumPacket {
                r#type: PacketType::UpToDate.code(),
                zxid: Zxid(-1),
                data: None,
                authinfo: None,
            },
        ),
        rec(
            "quorum_packet_request",
            QuorumPacket {
                r#type: PacketType::Request.code(),
                zxid: Zxid(-1),
                data: Some(request.freeze()),
                authinfo: Some(vec![Id::new("ip", "10.0.0.9"), Id::new("digest", "alice")]),
            },
        ),
        rec(
            "quorum_packet_followerinfo",
            QuorumPacket {
                r#type: PacketType::FollowerInfo.code(),
                zxid: Zxid::new(3, 0),
                data: Some(learner_info().to_bytes()),
                authinfo: None,
            },
        ),
        rec(
            "quorum_packet_empty",
            QuorumPacket {
                r#type: PacketType::Ping.code(),
                zxid: Zxid(0),
                data: Some(Bytes::new()),
                authinfo: Some(Vec::new()),
            },
        ),
        rec("quorum_learner_info", learner_info()),
        rec(
            "quorum_learner_info_extremes",
            LearnerInfo {
                server_id: ServerId(i64::MAX),
                protocol_version: -1,
                config_version: i64::MIN,
            },
        ),
        rec(
            "quorum_auth_packet",
            QuorumAuthPacket {
                magic: 0xFA11,
                status: 0,
                token: Some(unhex("6e74c4a1")),
            },
        ),
        rec(
            "quorum_auth_packet_null_token",
            QuorumAuthPacket {
                magic: -1,
                status: 1,
                token: None,
            },
        ),
    ]
}

// -------------------------------------------------------------------------------------------
// election (FastLeaderElection.buildMsg, QuorumCnxManager.startConnection)

/// `QuorumMaj.toString()` of the three-server config GoldenCapture builds.
const CONFIG_TEXT: &str = "server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
                           server.2=10.0.0.2:2888:3888:participant;0.0.0.0:2181\n\
                           server.3=10.0.0.3:2888:3888:observer;0.0.0.0:2181\n\
                           version=100000000";

fn election_vectors() -> Vec<Vector> {
    vec![
        exact(
            "election_notification",
            Notification {
                state: ServerState::Looking.code(),
                leader: ServerId(3),
                zxid: Zxid(0x1_0000_0009),
                election_epoch: 2,
                peer_epoch: 1,
                version: Notification::CURRENT_VERSION,
                config: b(CONFIG_TEXT),
            },
        ),
        exact(
            "election_notification_following",
            Notification {
                state: ServerState::Following.code(),
                leader: ServerId(3),
                zxid: Zxid(0),
                election_epoch: 1,
                peer_epoch: 1,
                version: Notification::CURRENT_VERSION,
                config: Some(Bytes::new()),
            },
        ),
        exact(
            "election_notification_extremes",
            Notification {
                state: ServerState::Observing.code(),
                leader: ServerId(i64::MIN),
                zxid: Zxid(i64::MIN),
                election_epoch: i64::MAX,
                peer_epoch: -1,
                version: Notification::CURRENT_VERSION,
                config: b("version=0"),
            },
        ),
        // The 40-byte form without config: Java ends it with an int 1 that readers ignore, so
        // it reads as version 0, as FastLeaderElection's receiver takes it.
        exact(
            "election_notification_legacy40",
            Notification {
                state: ServerState::Leading.code(),
                leader: ServerId(2),
                zxid: Zxid::new(5, 3),
                election_epoch: 7,
                peer_epoch: 5,
                version: 0,
                config: None,
            },
        ),
        exact(
            "election_handshake_v1",
            InitialMessage {
                protocol_version: Some(InitialMessage::PROTOCOL_V1),
                server_id: ServerId(5),
                addresses: strings(&["127.0.0.1:3888"]),
            },
        ),
        exact(
            "election_handshake_v2",
            InitialMessage {
                protocol_version: Some(InitialMessage::PROTOCOL_V2),
                server_id: ServerId(5),
                addresses: strings(&["127.0.0.1:3888", "127.0.0.1:3889"]),
            },
        ),
    ]
}

// -------------------------------------------------------------------------------------------
// persistence

fn persistence_vectors() -> Vec<Vector> {
    vec![
        rec("persistence_file_header_txn_log", FileHeader::txn_log()),
        rec("persistence_file_header_snapshot", FileHeader::snapshot()),
    ]
}

// -------------------------------------------------------------------------------------------
// multi (MultiOperationRecord, MultiResponse)

fn multi_vectors() -> Vec<Vector> {
    vec![
        rec(
            "multi_request",
            MultiRequest {
                ops: vec![
                    MultiOp::Create {
                        op: OpCode::Create,
                        request: CreateRequest {
                            path: s("/m/a"),
                            data: b("1"),
                            acl: open_acl(),
                            flags: CreateMode::Ephemeral.code(),
                        },
                    },
                    MultiOp::Create {
                        op: OpCode::Create2,
                        request: CreateRequest {
                            path: s("/m/b"),
                            data: b("2"),
                            acl: open_acl(),
                            flags: CreateMode::Persistent.code(),
                        },
                    },
                    MultiOp::Create {
                        op: OpCode::CreateContainer,
                        request: CreateRequest {
                            path: s("/m/c"),
                            data: None,
                            acl: open_acl(),
                            flags: CreateMode::Container.code(),
                        },
                    },
                    MultiOp::CreateTtl(CreateTtlRequest {
                        path: s("/m/t"),
                        data: Some(Bytes::new()),
                        acl: mixed_acl(),
                        flags: CreateMode::PersistentWithTtl.code(),
                        ttl: 60_000,
                    }),
                    MultiOp::Delete(DeleteRequest {
                        path: s("/m/old"),
                        version: -1,
                    }),
                    MultiOp::SetData(SetDataRequest {
                        path: s("/m"),
                        data: b("x"),
                        version: 4,
                    }),
                    MultiOp::Check(CheckVersionRequest {
                        path: s(UNICODE_PATH),
                        version: 0,
                    }),
                ],
            },
        ),
        rec("multi_request_empty", MultiRequest::default()),
        rec(
            "multi_read_request",
            MultiRequest {
                ops: vec![
                    MultiOp::GetChildren(GetChildrenRequest {
                        path: s("/m"),
                        watch: false,
                    }),
                    MultiOp::GetData(GetDataRequest {
                        path: s("/m/a"),
                        watch: false,
                    }),
                    MultiOp::GetData(GetDataRequest {
                        path: s(UNICODE_PATH),
                        watch: false,
                    }),
                ],
            },
        ),
        rec(
            "multi_response",
            MultiResponse {
                results: vec![
                    MultiResult::Create(CreateResponse { path: s("/m/a") }),
                    MultiResult::Create2(Create2Response {
                        path: s("/m/b"),
                        stat: stat_node(),
                    }),
                    MultiResult::Create2(Create2Response {
                        path: s("/m/c"),
                        stat: stat(),
                    }),
                    MultiResult::Delete,
                    MultiResult::SetData(SetDataResponse { stat: stat() }),
                    MultiResult::Check,
                ],
            },
        ),
        rec(
            "multi_response_failed",
            MultiResponse {
                results: vec![
                    MultiResult::Error(0),
                    MultiResult::Error(zk_jute::ErrorCode::NoNode.code()),
                    MultiResult::Error(zk_jute::ErrorCode::RuntimeInconsistency.code()),
                ],
            },
        ),
        rec("multi_response_empty", MultiResponse::default()),
        rec(
            "multi_read_response",
            MultiResponse {
                results: vec![
                    MultiResult::GetChildren(GetChildrenResponse {
                        children: strings(&["a", "b", "c"]),
                    }),
                    MultiResult::GetData(GetDataResponse {
                        data: b("1"),
                        stat: stat_node(),
                    }),
                    MultiResult::GetData(GetDataResponse {
                        data: None,
                        stat: stat_node(),
                    }),
                    MultiResult::GetChildren(GetChildrenResponse::default()),
                    MultiResult::Error(zk_jute::ErrorCode::NoNode.code()),
                ],
            },
        ),
    ]
}

// -------------------------------------------------------------------------------------------
// Tests

fn all_vectors() -> Vec<Vector> {
    [
        data_vectors(),
        proto_vectors(),
        frame_vectors(),
        txn_vectors(),
        txn_entry_vectors(),
        quorum_vectors(),
        election_vectors(),
        persistence_vectors(),
        multi_vectors(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[test]
fn golden_data() {
    run(data_vectors());
}

#[test]
fn golden_proto() {
    run(proto_vectors());
}

#[test]
fn golden_client_frames() {
    run(frame_vectors());
}

#[test]
fn golden_txn() {
    run(txn_vectors());
}

#[test]
fn golden_txn_entries() {
    run(txn_entry_vectors());
}

#[test]
fn golden_quorum() {
    run(quorum_vectors());
}

#[test]
fn golden_election() {
    run(election_vectors());
}

#[test]
fn golden_persistence() {
    run(persistence_vectors());
}

#[test]
fn golden_multi() {
    run(multi_vectors());
}

/// Every vector the tests expect is committed, and every committed vector is checked.
#[test]
fn golden_files_match_the_vector_list() {
    let mut names = BTreeSet::new();
    let mut expected = BTreeSet::new();
    for vector in all_vectors() {
        assert!(
            names.insert(vector.name),
            "vector {} is listed twice",
            vector.name
        );
        expected.insert(vector.name);
        expected.extend(vector.companions);
    }
    let dir = data_dir();
    let present: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("cannot list tests/golden/data: {err}"))
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    let missing: Vec<String> = expected
        .iter()
        .map(|name| format!("{name}.bin"))
        .filter(|file| !present.contains(file))
        .collect();
    assert!(
        missing.is_empty(),
        "golden vector files missing from tests/golden/data (run tests/golden/capture.sh): {missing:?}"
    );
    let unchecked: Vec<&String> = present
        .iter()
        .filter(|file| {
            !file
                .strip_suffix(".bin")
                .is_some_and(|name| expected.contains(name))
        })
        .collect();
    assert!(
        unchecked.is_empty(),
        "files in tests/golden/data that no test checks: {unchecked:?}"
    );
}

/// The harness itself: a wrong expected value or a flipped byte must fail.
#[test]
fn golden_harness_detects_differences() {
    let bytes = load("proto_get_data_request");
    let right = Rec(GetDataRequest {
        path: s("/app/config"),
        watch: true,
    });
    check_decode("self-test", &right, &bytes);
    check_encode("self-test", &right, &bytes);

    let wrong = Rec(GetDataRequest {
        path: s("/app/config"),
        watch: false,
    });
    assert!(catch_unwind(|| check_decode("self-test", &wrong, &bytes)).is_err());
    assert!(catch_unwind(|| check_encode("self-test", &wrong, &bytes)).is_err());

    let mut flipped = bytes.clone();
    *flipped.last_mut().unwrap() ^= 0x01;
    assert!(catch_unwind(|| check_decode("self-test", &right, &flipped)).is_err());

    let mut longer = bytes.clone();
    longer.push(0);
    assert!(catch_unwind(|| check_decode("self-test", &right, &longer)).is_err());
}
