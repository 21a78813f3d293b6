//! Property tests: every record survives encode -> decode, whether its bytes arrive in one chunk or
//! one byte at a time, and every truncation of it is an error rather than a panic or a wrong value.

use std::sync::Arc;

use bytes::{Buf, Bytes};
use proptest::prelude::*;

use crate::multi::{MultiRequest, MultiResponse};
use crate::persistence::FileHeader;
use crate::proto::*;
use crate::quorum::{InitialMessage, LearnerInfo, Notification, QuorumAuthPacket, QuorumPacket};
use crate::testgen::Generate;
use crate::txn::*;
use crate::{Acl, ClientInfo, DecodeError, FrameDecoder, Id, Record, Stat, StatPersisted, Zxid};

/// A `Buf` that hands out one byte per chunk, so decoders cannot rely on contiguous input.
struct Drip<'a> {
    bytes: &'a [u8],
}

impl Buf for Drip<'_> {
    fn remaining(&self) -> usize {
        self.bytes.len()
    }
    fn chunk(&self) -> &[u8] {
        &self.bytes[..self.bytes.len().min(1)]
    }
    fn advance(&mut self, cnt: usize) {
        self.bytes = &self.bytes[cnt..];
    }
}

fn check_record<R: Record + PartialEq + std::fmt::Debug>(value: &R, strict_prefixes: bool) {
    let bytes = value.to_bytes();
    assert_eq!(bytes.len(), value.encoded_len(), "encoded_len of {value:?}");
    let mut whole = bytes.clone();
    assert_eq!(&R::read(&mut whole).unwrap(), value);
    assert_eq!(
        whole.remaining(),
        0,
        "decoding must consume exactly the record"
    );
    let mut drip = Drip { bytes: &bytes };
    assert_eq!(&R::read(&mut drip).unwrap(), value, "one byte at a time");
    if strict_prefixes {
        for cut in 0..bytes.len() {
            assert!(
                R::from_bytes(&bytes[..cut]).is_err(),
                "a {cut}-byte prefix of {value:?} decoded"
            );
        }
    }
}

macro_rules! roundtrip {
    ($($name:ident: $ty:ty),* $(,)?) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            $(
                #[test]
                fn $name(value in <$ty as Generate>::strategy()) {
                    check_record(&value, true);
                }
            )*
        }
    };
}

roundtrip! {
    id: Id, acl: Acl, stat: Stat, stat_persisted: StatPersisted, client_info: ClientInfo,
    connect_request: ConnectRequest, connect_response: ConnectResponse,
    set_watches: SetWatches, set_watches2: SetWatches2, request_header: RequestHeader,
    multi_header: MultiHeader, auth_packet: AuthPacket, reply_header: ReplyHeader,
    get_data_request: GetDataRequest, set_data_request: SetDataRequest,
    reconfig_request: ReconfigRequest, set_data_response: SetDataResponse,
    get_sasl_request: GetSaslRequest, set_sasl_request: SetSaslRequest,
    set_sasl_response: SetSaslResponse, create_request: CreateRequest,
    create_ttl_request: CreateTtlRequest, delete_request: DeleteRequest,
    get_children_request: GetChildrenRequest,
    get_all_children_number_request: GetAllChildrenNumberRequest,
    get_children2_request: GetChildren2Request, check_version_request: CheckVersionRequest,
    get_max_children_request: GetMaxChildrenRequest,
    get_max_children_response: GetMaxChildrenResponse,
    set_max_children_request: SetMaxChildrenRequest, sync_request: SyncRequest,
    sync_response: SyncResponse, get_acl_request: GetAclRequest,
    set_acl_request: SetAclRequest, set_acl_response: SetAclResponse,
    add_watch_request: AddWatchRequest, watcher_event: WatcherEvent,
    error_response: ErrorResponse, create_response: CreateResponse,
    create2_response: Create2Response, exists_request: ExistsRequest,
    exists_response: ExistsResponse, get_data_response: GetDataResponse,
    get_data_reply: GetDataReply,
    get_children_response: GetChildrenResponse,
    get_all_children_number_response: GetAllChildrenNumberResponse,
    get_children2_response: GetChildren2Response, get_acl_response: GetAclResponse,
    check_watches_request: CheckWatchesRequest, remove_watches_request: RemoveWatchesRequest,
    get_ephemerals_request: GetEphemeralsRequest, get_ephemerals_response: GetEphemeralsResponse,
    who_am_i_response: WhoAmIResponse,
    txn_header: TxnHeader, txn_digest: TxnDigest, create_txn_v0: CreateTxnV0,
    create_txn: CreateTxn, create_ttl_txn: CreateTtlTxn,
    create_container_txn: CreateContainerTxn, delete_txn: DeleteTxn, set_data_txn: SetDataTxn,
    check_version_txn: CheckVersionTxn, set_acl_txn: SetAclTxn,
    set_max_children_txn: SetMaxChildrenTxn, create_session_txn: CreateSessionTxn,
    close_session_txn: CloseSessionTxn, error_txn: ErrorTxn, txn: Txn, multi_txn: MultiTxn,
    quorum_packet: QuorumPacket, quorum_auth_packet: QuorumAuthPacket,
    file_header: FileHeader, multi_request: MultiRequest, multi_response: MultiResponse,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// LearnerInfo accepts its shorter legacy forms, so only its whole encoding is exact.
    #[test]
    fn learner_info(value in LearnerInfo::strategy()) {
        check_record(&value, false);
    }

    #[test]
    fn txn_entry(entry in TxnEntry::strategy()) {
        let bytes = entry.to_bytes();
        prop_assert_eq!(bytes.len(), entry.encoded_len());
        prop_assert_eq!(&TxnEntry::read(&mut bytes.clone()).unwrap(), &entry);
        prop_assert_eq!(&TxnEntry::read(&mut Drip { bytes: &bytes }).unwrap(), &entry);
    }

    #[test]
    fn notification(n in Notification::strategy()) {
        let bytes = n.to_bytes();
        prop_assert_eq!(bytes.len(), n.encoded_len());
        prop_assert_eq!(Notification::decode(&bytes).unwrap(), n);
    }

    #[test]
    fn initial_message(m in InitialMessage::strategy()) {
        let bytes = m.to_bytes();
        prop_assert_eq!(InitialMessage::read(&mut Drip { bytes: &bytes }).unwrap(), m.clone());
        for cut in 0..bytes.len() {
            prop_assert!(InitialMessage::read(&mut &bytes[..cut]).is_err());
        }
    }

    /// Arbitrary bytes never panic a decoder, and whatever decodes re-encodes to a prefix-exact
    /// value (a second decode of the re-encoding gives the same value).
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(v) = MultiRequest::from_bytes(&bytes) {
            prop_assert_eq!(MultiRequest::from_bytes(&v.to_bytes()).unwrap(), v);
        }
        if let Ok(v) = MultiResponse::from_bytes(&bytes) {
            prop_assert_eq!(MultiResponse::from_bytes(&v.to_bytes()).unwrap(), v);
        }
        let _ = TxnEntry::read(&mut &bytes[..]);
        let _ = Notification::decode(&bytes);
        let _ = InitialMessage::read(&mut &bytes[..]);
        let _ = QuorumPacket::from_bytes(&bytes);
        let _ = ConnectRequest::read_with_flag(&mut &bytes[..]);
    }

    /// Frames come out the same whether the stream arrives whole or one byte at a time.
    #[test]
    fn frames_one_byte_at_a_time(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..6)) {
        let mut stream = bytes::BytesMut::new();
        for p in &payloads {
            crate::encode_frame(&mut stream, |out| out.extend_from_slice(p));
        }
        let decoder = FrameDecoder::new(64);
        let mut whole = stream.clone();
        let mut from_whole = Vec::new();
        while let Some(frame) = decoder.decode(&mut whole).unwrap() {
            from_whole.push(frame);
        }
        let mut buffer = bytes::BytesMut::new();
        let mut from_drip = Vec::new();
        for byte in stream.iter() {
            buffer.extend_from_slice(&[*byte]);
            while let Some(frame) = decoder.decode(&mut buffer).unwrap() {
                from_drip.push(frame);
            }
        }
        let expected: Vec<Bytes> = payloads.into_iter().map(Bytes::from).collect();
        prop_assert_eq!(&from_whole, &expected);
        prop_assert_eq!(&from_drip, &expected);
    }
}

#[test]
fn a_get_data_reply_is_a_get_data_response() {
    for data in [None, Some(&b""[..]), Some(&b"node data"[..])] {
        let stat = Stat {
            czxid: Zxid(7),
            data_length: data.map_or(0, |d| d.len() as i32),
            ..Default::default()
        };
        let reply = GetDataReply {
            data: data.map(Arc::from),
            stat: stat.clone(),
        };
        let response = GetDataResponse {
            data: data.map(Bytes::copy_from_slice),
            stat,
        };
        assert_eq!(reply.to_bytes(), response.to_bytes());
        assert_eq!(reply.encoded_len(), response.encoded_len());
        assert_eq!(
            GetDataReply::from_bytes(&response.to_bytes()).unwrap(),
            reply
        );
    }
}

#[test]
fn a_null_buffer_stays_null_and_an_empty_one_stays_empty() {
    let null = GetDataResponse::default();
    assert_eq!(&null.to_bytes()[..4], &[0xff; 4]);
    let empty = GetDataResponse {
        data: Some(Bytes::new()),
        ..Default::default()
    };
    assert_eq!(&empty.to_bytes()[..4], &[0; 4]);
    assert_eq!(
        GetDataResponse::from_bytes(&null.to_bytes()).unwrap().data,
        None
    );
    assert_eq!(
        GetDataResponse::from_bytes(&empty.to_bytes()).unwrap().data,
        Some(Bytes::new())
    );
}

#[test]
fn a_declared_length_beyond_the_input_is_an_error_without_allocating() {
    // A string claiming 2 GiB in a 6-byte input.
    let bytes = [0x7f, 0xff, 0xff, 0xff, b'a', b'b'];
    assert_eq!(
        String::from_bytes(&bytes),
        Err(DecodeError::UnexpectedEnd {
            needed: 0x7fff_ffff,
            remaining: 2
        })
    );
    // A vector claiming 2^31-1 ACLs.
    assert!(matches!(
        Vec::<Acl>::from_bytes(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1]),
        Err(DecodeError::UnexpectedEnd { .. })
    ));
    assert_eq!(
        String::from_bytes(&[0xff, 0xff, 0xff, 0xfe]),
        Err(DecodeError::NegativeLength(-2))
    );
}

#[test]
fn invalid_utf8_decodes_lossily_as_java_does() {
    let bytes = [0, 0, 0, 3, b'a', 0xff, b'b'];
    assert_eq!(String::from_bytes(&bytes).unwrap(), "a\u{fffd}b");
}

#[test]
fn frame_lengths_are_checked_before_buffering() {
    let decoder = FrameDecoder::default();
    let mut negative = bytes::BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
    assert_eq!(
        decoder.decode(&mut negative),
        Err(DecodeError::NegativeLength(-1))
    );
    let mut huge = bytes::BytesMut::from(&[0x00, 0x10, 0x00, 0x00][..]);
    assert_eq!(
        decoder.decode(&mut huge),
        Err(DecodeError::LengthTooLarge {
            len: 0x10_0000,
            max: 0xF_FFFF
        })
    );
    assert!(
        huge.capacity() < 1024,
        "no buffer was grown for a rejected length"
    );
    let mut at_limit = bytes::BytesMut::from(&[0x00, 0x0f, 0xff, 0xff][..]);
    assert_eq!(decoder.decode(&mut at_limit), Ok(None));
}

#[test]
fn spec_byte_examples() {
    // create2 /m1 "v" world:anyone ALL, persistent (wire-and-disk.md §2.13), after the header.
    let create = CreateRequest {
        path: "/m1".into(),
        data: Some(Bytes::from_static(b"v")),
        acl: Acl::open_unsafe(),
        flags: 0,
    };
    let expected = "000000032f6d31000000017600000001\
                    0000001f00000005776f726c6400000006616e796f6e6500000000";
    assert_eq!(hex(&create.to_bytes()), expected);
    // Notification NodeDataChanged on /m1.
    let event = WatcherEvent {
        r#type: 3,
        state: 3,
        path: "/m1".into(),
    };
    assert_eq!(hex(&event.to_bytes()), "0000000300000003000000032f6d31");
}

#[test]
fn failed_multi_response_matches_the_spec_bytes() {
    use crate::multi::MultiResult;
    let response = MultiResponse {
        results: vec![
            MultiResult::Error(0),
            MultiResult::Error(-101),
            MultiResult::Error(-2),
        ],
    };
    assert_eq!(
        hex(&response.to_bytes()),
        // Exactly as wire-and-disk.md §2.7 gives it, separators removed.
        "ffffffff 00 00000000 00000000 | ffffffff 00 ffffff9b ffffff9b | \
         ffffffff 00 fffffffe fffffffe | ffffffff 01 ffffffff"
            .replace([' ', '|'], "")
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
