// Captures golden vectors for zk-jute from the real Apache ZooKeeper 3.8 classes.
//
// Every vector is built from fixed field values with the Java classes of ZooKeeper 3.8.0 and
// serialized with org.apache.jute.BinaryOutputArchive (or, for the layouts that are not jute, the
// real Java code path that produces them). One file per vector is written to <outdir>/<name>.bin.
// tests/golden.rs builds the same values in Rust and checks both directions byte for byte, so any
// change of a value here must be mirrored there.
//
// Run through capture.sh; the .bin files are committed and this program is not needed at test time.

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.TreeSet;

import org.apache.jute.BinaryInputArchive;
import org.apache.jute.BinaryOutputArchive;
import org.apache.jute.Record;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.MultiOperationRecord;
import org.apache.zookeeper.MultiResponse;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.data.StatPersisted;
import org.apache.zookeeper.proto.*;
import org.apache.zookeeper.server.persistence.FileHeader;
import org.apache.zookeeper.server.persistence.Util;
import org.apache.zookeeper.server.quorum.LearnerInfo;
import org.apache.zookeeper.server.quorum.QuorumAuthPacket;
import org.apache.zookeeper.server.quorum.QuorumCnxManager;
import org.apache.zookeeper.server.quorum.QuorumPacket;
import org.apache.zookeeper.server.quorum.QuorumPeer;
import org.apache.zookeeper.server.quorum.auth.NullQuorumAuthLearner;
import org.apache.zookeeper.server.quorum.auth.NullQuorumAuthServer;
import org.apache.zookeeper.server.quorum.flexible.QuorumMaj;
import org.apache.zookeeper.txn.*;

public class GoldenCapture {

    private static Path outDir;
    private static final TreeSet<String> written = new TreeSet<>();

    // ---------------------------------------------------------------------------------------
    // Shared values (mirrored in golden.rs).

    static final String UNICODE_PATH = "/配置/ñandú-€";
    static final String SASL_ID = "José@ÉXAMPLE.COM";
    static final String DIGEST_ID = "alice:XHlwMVHKTf0Ds/GC8qvMZ5aHJrA=";
    static final long SESSION = 0x01000004dcfd0003L;
    static final byte[] PASSWD = hex("464844a2d2b6fafa6affb6a7385ca56d");

    static List<ACL> openAcl() {
        return new ArrayList<>(ZooDefs.Ids.OPEN_ACL_UNSAFE);
    }

    static List<ACL> mixedAcl() {
        List<ACL> acl = new ArrayList<>();
        acl.add(new ACL(ZooDefs.Perms.ALL, new Id("digest", DIGEST_ID)));
        acl.add(new ACL(ZooDefs.Perms.READ, new Id("ip", "10.0.0.0/8")));
        acl.add(new ACL(ZooDefs.Perms.READ | ZooDefs.Perms.ADMIN, new Id("sasl", SASL_ID)));
        return acl;
    }

    static Stat stat() {
        return new Stat(0x100000002L, 0x100000007L, 1700000000123L, 1700000456789L, 3, 4, 1,
                        SESSION, 11, 2, 0x100000005L);
    }

    static Stat statExtremes() {
        return new Stat(Long.MIN_VALUE, Long.MAX_VALUE, Long.MIN_VALUE, Long.MAX_VALUE,
                        Integer.MIN_VALUE, -1, Integer.MAX_VALUE, Long.MIN_VALUE, 0, 0, -1L);
    }

    static Stat statNode() {
        return new Stat(0x200000010L, 0x200000010L, 1700000999000L, 1700000999000L, 0, 0, 0,
                        0L, 5, 0, 0x200000010L);
    }

    // ---------------------------------------------------------------------------------------

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: GoldenCapture <outdir>");
            System.exit(2);
        }
        outDir = Paths.get(args[0]);
        Files.createDirectories(outDir);

        data();
        proto();
        frames();
        txn();
        txnEntries();
        quorum();
        election();
        persistence();
        multi();

        System.out.println("wrote " + written.size() + " vectors to " + outDir);
        // The quorum classes used for the handshake may leave threads behind.
        System.exit(0);
    }

    static void data() throws Exception {
        rec("data_id", new Id("digest", DIGEST_ID));
        rec("data_id_unicode", new Id("sasl", SASL_ID + " — 東京"));
        rec("data_id_empty", new Id("auth", ""));
        rec("data_acl", new ACL(ZooDefs.Perms.ALL, new Id("world", "anyone")));
        rec("data_acl_negative_perms", new ACL(-1, new Id("ip", "192.168.1.0/24")));
        rec("data_stat", stat());
        rec("data_stat_extremes", statExtremes());
        rec("data_stat_persisted", new StatPersisted(0x300000001L, 0x300000004L, 1700000000000L,
                                                     1700000001000L, 2, 7, 0, SESSION, 0x300000009L));
        // A container node: ephemeralOwner is Long.MIN_VALUE on disk.
        rec("data_stat_persisted_container", new StatPersisted(Long.MAX_VALUE, 0L, -1L, 0L, -1, -2,
                                                               Integer.MIN_VALUE, Long.MIN_VALUE, Long.MIN_VALUE));
        rec("data_client_info", new ClientInfo("ip", "127.0.0.1"));

        // A string outside the BMP: Java writes each UTF-16 surrogate as its own 3-byte sequence,
        // and Java's own reader decodes those bytes lossily. The second vector is what Java gets
        // back when it reads the first and writes the result again.
        Id supplementary = new Id("sasl", "emoji-\uD83D\uDE00-end");
        rec("data_id_supplementary", supplementary);
        Id reread = new Id();
        reread.deserialize(BinaryInputArchive.getArchive(new ByteArrayInputStream(ser(supplementary))), "id");
        rec("data_id_supplementary_java_reread", reread);

        // Malformed UTF-8 in ustrings, and the text Java's reader makes of each (written back as
        // standard UTF-8 with String.getBytes, so supplementary characters stay intact).
        String[] malformed = {
            "61c08062", "e08080", "eda080", "eda0bdedb880", "f09f9880", "f0808080", "f4908080",
            "f888808080", "80bf", "78e282", "78e28279", "e228", "c3", "c328", "f09f98", "f09f28",
            "f09f9828", "fffe", "f5808080", "6f6b20c3b120e282ac20e69db1", "efbfbf", "f48fbfbf",
            "e0a0", "f490", "f09080", "c1bf", "", "e0a080", "edbfbf", "ee8080",
        };
        // Plus short pseudo-random byte strings (fixed seed) made of the bytes where UTF-8
        // decoders differ: leads, continuation-range edges, invalid bytes.
        List<byte[]> cases = new ArrayList<>();
        for (String h : malformed) {
            cases.add(hex(h));
        }
        int[] interesting = {0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
                             0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xf8, 0xff};
        java.util.Random random = new java.util.Random(0x5eed);
        for (int i = 0; i < 400; i++) {
            byte[] raw = new byte[random.nextInt(9)];
            for (int j = 0; j < raw.length; j++) {
                raw[j] = (byte) interesting[random.nextInt(interesting.length)];
            }
            cases.add(raw);
        }
        ByteArrayOutputStream in = new ByteArrayOutputStream();
        ByteArrayOutputStream decoded = new ByteArrayOutputStream();
        DataOutputStream inOut = new DataOutputStream(in);
        DataOutputStream decodedOut = new DataOutputStream(decoded);
        inOut.writeInt(cases.size());
        decodedOut.writeInt(cases.size());
        for (byte[] raw : cases) {
            inOut.writeInt(raw.length);
            inOut.write(raw);
            ByteArrayOutputStream one = new ByteArrayOutputStream();
            DataOutputStream oneOut = new DataOutputStream(one);
            oneOut.writeInt(raw.length);
            oneOut.write(raw);
            String text = BinaryInputArchive.getArchive(new ByteArrayInputStream(one.toByteArray())).readString("s");
            byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
            decodedOut.writeInt(utf8.length);
            decodedOut.write(utf8);
        }
        raw("data_strings_malformed", in.toByteArray());
        raw("data_strings_malformed_java_decoded", decoded.toByteArray());
    }

    static void proto() throws Exception {
        rec("proto_connect_request", new ConnectRequest(0, 0L, 30000, 0L, new byte[16]));
        rec("proto_connect_request_resume", new ConnectRequest(0, 0x100000005L, 40000, SESSION, PASSWD));
        rec("proto_connect_response", new ConnectResponse(0, 30000, SESSION, PASSWD));
        // The server appends the read-only flag after the record when the client sent one
        // (ZooKeeperServer.finishSessionInit).
        recWithBool("proto_connect_response_with_flag", new ConnectResponse(0, 30000, SESSION, PASSWD), false);
        recWithBool("proto_connect_response_expired", new ConnectResponse(0, 0, 0L, new byte[16]), false);
        recWithBool("proto_connect_response_readonly", new ConnectResponse(0, 4000, 0x0200000000000001L, PASSWD), true);

        rec("proto_set_watches", new SetWatches(0x100000007L,
            Arrays.asList("/app/config", UNICODE_PATH),
            Arrays.asList("/app/lock"),
            Arrays.asList("/app", "/")));
        rec("proto_set_watches_empty", new SetWatches(0L, new ArrayList<>(), new ArrayList<>(), new ArrayList<>()));
        // Java's default (null) lists: written as count -1; zk-jute reads them as empty.
        rec("proto_set_watches_null_lists", new SetWatches(0L, null, null, null));
        rec("proto_set_watches2", new SetWatches2(0x100000007L,
            Arrays.asList("/a"),
            new ArrayList<>(),
            Arrays.asList("/b", "/c"),
            Arrays.asList("/persistent"),
            Arrays.asList("/", UNICODE_PATH)));

        rec("proto_request_header", new RequestHeader(7, ZooDefs.OpCode.getData));
        rec("proto_request_header_ping", new RequestHeader(-2, ZooDefs.OpCode.ping));
        rec("proto_request_header_extremes", new RequestHeader(Integer.MAX_VALUE, Integer.MIN_VALUE));
        rec("proto_multi_header", new MultiHeader(ZooDefs.OpCode.setData, false, -1));
        rec("proto_multi_header_done", new MultiHeader(-1, true, -1));
        rec("proto_auth_packet", new AuthPacket(0, "digest", "alice:secret".getBytes(StandardCharsets.UTF_8)));
        rec("proto_auth_packet_empty", new AuthPacket(0, "ip", new byte[0]));
        rec("proto_reply_header", new ReplyHeader(7, 0x100000007L, 0));
        rec("proto_reply_header_notification", new ReplyHeader(-1, -1L, 0));
        rec("proto_reply_header_error", new ReplyHeader(3, 0x100000008L, KeeperCode.NONODE));
        rec("proto_get_data_request", new GetDataRequest("/app/config", true));
        rec("proto_set_data_request", new SetDataRequest("/app/config", "key=value\n".getBytes(StandardCharsets.UTF_8), 3));
        rec("proto_set_data_request_null_data", new SetDataRequest(UNICODE_PATH, null, -1));
        rec("proto_reconfig_request_incremental", new ReconfigRequest(
            "server.4=10.0.0.4:2888:3888:participant;2181", "2", null, -1L));
        rec("proto_reconfig_request_members", new ReconfigRequest(null, null,
            "server.1=10.0.0.1:2888:3888;2181,server.2=10.0.0.2:2888:3888;2181", 0x100000000L));
        rec("proto_reconfig_request_all_null", new ReconfigRequest(null, null, null, Long.MIN_VALUE));
        rec("proto_set_data_response", new SetDataResponse(stat()));
        rec("proto_get_sasl_request", new GetSASLRequest(hex("60820132")));
        rec("proto_set_sasl_request", new SetSASLRequest(hex("0102030405")));
        rec("proto_set_sasl_response", new SetSASLResponse(hex("a1b2c3")));
        rec("proto_set_sasl_response_null", new SetSASLResponse(null));
        rec("proto_create_request", new CreateRequest("/app/workers/w-",
            "worker".getBytes(StandardCharsets.UTF_8), openAcl(), CreateMode.EPHEMERAL_SEQUENTIAL.toFlag()));
        rec("proto_create_request_unicode", new CreateRequest(UNICODE_PATH, new byte[0], mixedAcl(),
            CreateMode.PERSISTENT.toFlag()));
        rec("proto_create_request_null_data", new CreateRequest("/n", null, openAcl(), CreateMode.CONTAINER.toFlag()));
        rec("proto_create_request_empty_acl", new CreateRequest("/e", hex("00ff"), new ArrayList<>(), 0));
        rec("proto_create_ttl_request", new CreateTTLRequest("/ttl/node",
            "t".getBytes(StandardCharsets.UTF_8), openAcl(), CreateMode.PERSISTENT_WITH_TTL.toFlag(), 3600000L));
        rec("proto_create_ttl_request_max", new CreateTTLRequest("/ttl/seq-", null, openAcl(),
            CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL.toFlag(), 0xFFFFFFFFFFL));
        rec("proto_delete_request", new DeleteRequest("/app/old", -1));
        rec("proto_get_children_request", new GetChildrenRequest("/app", false));
        rec("proto_get_all_children_number_request", new GetAllChildrenNumberRequest("/"));
        rec("proto_get_children2_request", new GetChildren2Request(UNICODE_PATH, true));
        rec("proto_check_version_request", new CheckVersionRequest("/app/config", 3));
        rec("proto_get_max_children_request", new GetMaxChildrenRequest("/app"));
        rec("proto_get_max_children_response", new GetMaxChildrenResponse(100));
        rec("proto_set_max_children_request", new SetMaxChildrenRequest("/app", -1));
        rec("proto_sync_request", new SyncRequest("/app"));
        rec("proto_sync_response", new SyncResponse("/app"));
        rec("proto_get_acl_request", new GetACLRequest("/app/secure"));
        rec("proto_set_acl_request", new SetACLRequest("/app/secure", mixedAcl(), 0));
        rec("proto_set_acl_response", new SetACLResponse(stat()));
        rec("proto_add_watch_request", new AddWatchRequest("/app", 1));
        rec("proto_watcher_event", new WatcherEvent(3, 3, "/m1"));
        rec("proto_watcher_event_unicode", new WatcherEvent(4, 3, UNICODE_PATH));
        rec("proto_watcher_event_none", new WatcherEvent(-1, -112, ""));
        rec("proto_error_response", new ErrorResponse(0));
        rec("proto_error_response_nowatcher", new ErrorResponse(-121));
        rec("proto_create_response", new CreateResponse("/app/workers/w-0000000007"));
        rec("proto_create2_response", new Create2Response("/app/workers/w-0000000007", stat()));
        rec("proto_exists_request", new ExistsRequest("/app/missing", true));
        rec("proto_exists_response", new ExistsResponse(statExtremes()));
        rec("proto_get_data_response", new GetDataResponse("key=value\n".getBytes(StandardCharsets.UTF_8), stat()));
        rec("proto_get_data_response_null_data", new GetDataResponse(null, statNode()));
        rec("proto_get_data_response_empty_data", new GetDataResponse(new byte[0], statNode()));
        rec("proto_get_children_response", new GetChildrenResponse(Arrays.asList("zookeeper", "app", "配置")));
        rec("proto_get_children_response_empty", new GetChildrenResponse(new ArrayList<>()));
        rec("proto_get_all_children_number_response", new GetAllChildrenNumberResponse(8));
        rec("proto_get_children2_response", new GetChildren2Response(Arrays.asList("a", "b"), stat()));
        rec("proto_get_acl_response", new GetACLResponse(mixedAcl(), stat()));
        rec("proto_check_watches_request", new CheckWatchesRequest("/app", 2));
        rec("proto_remove_watches_request", new RemoveWatchesRequest("/app", 3));
        rec("proto_get_ephemerals_request", new GetEphemeralsRequest("/app/workers"));
        rec("proto_get_ephemerals_response", new GetEphemeralsResponse(Arrays.asList(
            "/app/workers/w-0000000007", "/app/lock")));
        rec("proto_who_am_i_response", new WhoAmIResponse(Arrays.asList(
            new ClientInfo("ip", "127.0.0.1"), new ClientInfo("digest", "alice"))));
        rec("proto_who_am_i_response_empty", new WhoAmIResponse(new ArrayList<>()));
    }

    /** Whole client frames exactly as the Java client's ClientCnxn.Packet.createBB builds them. */
    static void frames() throws Exception {
        Class<?> packetClass = Class.forName("org.apache.zookeeper.ClientCnxn$Packet");
        Class<?> watchRegistration = Class.forName("org.apache.zookeeper.ZooKeeper$WatchRegistration");
        Constructor<?> ctor = packetClass.getDeclaredConstructor(RequestHeader.class, ReplyHeader.class,
            Record.class, Record.class, watchRegistration, boolean.class);
        ctor.setAccessible(true);
        Method createBB = packetClass.getMethod("createBB");
        createBB.setAccessible(true);
        Field bbField = packetClass.getDeclaredField("bb");
        bbField.setAccessible(true);

        Object[][] frames = {
            {"frame_connect", null, new ConnectRequest(0, 0L, 30000, 0L, new byte[16]), false},
            {"frame_connect_readonly", null, new ConnectRequest(0, 0x100000005L, 40000, SESSION, PASSWD), true},
            {"frame_ping", new RequestHeader(-2, ZooDefs.OpCode.ping), null, false},
            {"frame_create2", new RequestHeader(2, ZooDefs.OpCode.create2),
                new CreateRequest("/m1", "v".getBytes(StandardCharsets.UTF_8), openAcl(), 0), false},
            {"frame_close_session", new RequestHeader(9, ZooDefs.OpCode.closeSession), null, false},
        };
        for (Object[] f : frames) {
            Object packet = ctor.newInstance(f[1], null, f[2], null, null, f[3]);
            createBB.invoke(packet);
            ByteBuffer bb = (ByteBuffer) bbField.get(packet);
            byte[] bytes = new byte[bb.remaining()];
            bb.duplicate().get(bytes);
            raw((String) f[0], bytes);
        }
    }

    static void txn() throws Exception {
        rec("txn_header", new TxnHeader(SESSION, 0, 0x100000001L, 1700000000123L, ZooDefs.OpCode.createSession));
        rec("txn_header_extremes", new TxnHeader(Long.MIN_VALUE, -1, Long.MAX_VALUE, -1L, ZooDefs.OpCode.error));
        rec("txn_digest", new TxnDigest(2, 1371985504L));
        rec("txn_digest_negative", new TxnDigest(2, Long.MIN_VALUE));
        rec("txn_create_v0", new CreateTxnV0("/legacy", "old".getBytes(StandardCharsets.UTF_8), openAcl(), false));
        rec("txn_create", new CreateTxn("/app/workers/w-0000000007", "worker".getBytes(StandardCharsets.UTF_8),
            openAcl(), true, 8));
        rec("txn_create_null_data", new CreateTxn(UNICODE_PATH, null, mixedAcl(), false, -1));
        rec("txn_create_ttl", new CreateTTLTxn("/ttl/node", "t".getBytes(StandardCharsets.UTF_8), openAcl(), 1, 3600000L));
        rec("txn_create_container", new CreateContainerTxn("/container", new byte[0], openAcl(), 2));
        rec("txn_delete", new DeleteTxn("/app/old"));
        rec("txn_set_data", new SetDataTxn("/app/config", "key=value\n".getBytes(StandardCharsets.UTF_8), 4));
        rec("txn_set_data_null", new SetDataTxn("/app/config", null, Integer.MAX_VALUE));
        rec("txn_check_version", new CheckVersionTxn("/app/config", 4));
        rec("txn_set_acl", new SetACLTxn("/app/secure", mixedAcl(), 1));
        rec("txn_set_max_children", new SetMaxChildrenTxn("/app", 10));
        rec("txn_create_session", new CreateSessionTxn(30000));
        rec("txn_close_session", new CloseSessionTxn(Arrays.asList("/app/lock", "/app/workers/w-0000000007")));
        rec("txn_close_session_empty", new CloseSessionTxn(new ArrayList<>()));
        rec("txn_error", new ErrorTxn(-110));
        rec("txn_txn", new Txn(ZooDefs.OpCode.delete, ser(new DeleteTxn("/app/old"))));
        rec("txn_multi", multiTxn());
        rec("txn_multi_failed", failedMultiTxn());
        rec("txn_multi_empty", new MultiTxn(new ArrayList<>()));
    }

    /** A MultiTxn as PrepRequestProcessor builds it: each sub-txn serialized into Txn.data. */
    static MultiTxn multiTxn() throws IOException {
        List<Txn> txns = new ArrayList<>();
        txns.add(new Txn(ZooDefs.OpCode.create, ser(new CreateTxn("/m/a", "1".getBytes(StandardCharsets.UTF_8),
            openAcl(), false, 1))));
        txns.add(new Txn(ZooDefs.OpCode.createContainer, ser(new CreateContainerTxn("/m/c", null, openAcl(), 2))));
        txns.add(new Txn(ZooDefs.OpCode.createTTL, ser(new CreateTTLTxn("/m/t", new byte[0], openAcl(), 3, 60000L))));
        txns.add(new Txn(ZooDefs.OpCode.delete, ser(new DeleteTxn("/m/old"))));
        txns.add(new Txn(ZooDefs.OpCode.setData, ser(new SetDataTxn("/m", "x".getBytes(StandardCharsets.UTF_8), 5))));
        txns.add(new Txn(ZooDefs.OpCode.check, ser(new CheckVersionTxn("/m", 5))));
        return new MultiTxn(txns);
    }

    static MultiTxn failedMultiTxn() throws IOException {
        List<Txn> txns = new ArrayList<>();
        txns.add(new Txn(ZooDefs.OpCode.error, ser(new ErrorTxn(0))));
        txns.add(new Txn(ZooDefs.OpCode.error, ser(new ErrorTxn(KeeperCode.NONODE))));
        txns.add(new Txn(ZooDefs.OpCode.error, ser(new ErrorTxn(-2))));
        return new MultiTxn(txns);
    }

    /** Txn log payloads / PROPOSAL data, marshalled by persistence.Util.marshallTxnEntry. */
    static void txnEntries() throws Exception {
        raw("txn_entry_create_session", Util.marshallTxnEntry(
            new TxnHeader(SESSION, 0, 1L, 1700000000123L, ZooDefs.OpCode.createSession),
            new CreateSessionTxn(30000), new TxnDigest(2, 1371985504L)));
        raw("txn_entry_create", Util.marshallTxnEntry(
            new TxnHeader(SESSION, 5, 0x100000009L, 1700000000456L, ZooDefs.OpCode.create2),
            new CreateTxn("/app/workers/w-0000000007", "worker".getBytes(StandardCharsets.UTF_8), openAcl(), true, 8),
            new TxnDigest(2, -4242424242424242L)));
        raw("txn_entry_multi", Util.marshallTxnEntry(
            new TxnHeader(SESSION, 6, 0x10000000aL, 1700000000789L, ZooDefs.OpCode.multi),
            multiTxn(), new TxnDigest(2, 99L)));
        raw("txn_entry_multi_failed", Util.marshallTxnEntry(
            new TxnHeader(SESSION, 7, 0x10000000bL, 1700000000790L, ZooDefs.OpCode.multi),
            failedMultiTxn(), new TxnDigest(2, 99L)));
        // A failed request: type -1, ErrorTxn, no digest.
        raw("txn_entry_error", Util.marshallTxnEntry(
            new TxnHeader(SESSION, 8, 0x10000000cL, 1700000000800L, ZooDefs.OpCode.error),
            new ErrorTxn(KeeperCode.NODEEXISTS)));
        raw("txn_entry_close_session", Util.marshallTxnEntry(
            new TxnHeader(SESSION, 9, 0x10000000dL, 1700000000900L, ZooDefs.OpCode.closeSession),
            new CloseSessionTxn(Arrays.asList("/app/lock")), new TxnDigest(2, 1L)));
        // A close written before 3.6: no body, no digest.
        raw("txn_entry_close_session_legacy", Util.marshallTxnEntry(
            new TxnHeader(SESSION, 0, 0x10000000eL, 1700000000901L, ZooDefs.OpCode.closeSession), null));
        raw("txn_entry_reconfig", Util.marshallTxnEntry(
            new TxnHeader(SESSION, 10, 0x10000000fL, 1700000000902L, ZooDefs.OpCode.reconfig),
            new SetDataTxn("/zookeeper/config", "server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181\nversion=10000000f"
                .getBytes(StandardCharsets.UTF_8), -1),
            new TxnDigest(2, 7L)));
        raw("txn_entry_delete_container", Util.marshallTxnEntry(
            new TxnHeader(0L, 0, 0x100000010L, 1700000000903L, ZooDefs.OpCode.deleteContainer),
            new DeleteTxn("/container"), new TxnDigest(2, 8L)));
        raw("txn_entry_set_acl", Util.marshallTxnEntry(
            new TxnHeader(SESSION, 11, 0x100000011L, 1700000000904L, ZooDefs.OpCode.setACL),
            new SetACLTxn("/app/secure", mixedAcl(), 2), new TxnDigest(2, 9L)));
        raw("txn_entry_create_ttl", Util.marshallTxnEntry(
            new TxnHeader(SESSION, 12, 0x100000012L, 1700000000905L, ZooDefs.OpCode.createTTL),
            new CreateTTLTxn("/ttl/node", null, openAcl(), 3, 3600000L), new TxnDigest(2, 10L)));
        raw("txn_entry_create_container", Util.marshallTxnEntry(
            new TxnHeader(SESSION, 13, 0x100000013L, 1700000000906L, ZooDefs.OpCode.createContainer),
            new CreateContainerTxn("/container", new byte[0], openAcl(), 4), new TxnDigest(2, 11L)));
        raw("txn_entry_delete", Util.marshallTxnEntry(
            new TxnHeader(SESSION, 14, 0x100000014L, 1700000000907L, ZooDefs.OpCode.delete),
            new DeleteTxn("/app/old"), new TxnDigest(2, 12L)));
    }

    static void quorum() throws Exception {
        byte[] proposal = Util.marshallTxnEntry(
            new TxnHeader(SESSION, 5, 0x100000009L, 1700000000456L, ZooDefs.OpCode.setData),
            new SetDataTxn("/app/config", "v2".getBytes(StandardCharsets.UTF_8), 4), new TxnDigest(2, 123456789L));
        rec("quorum_packet_proposal", new QuorumPacket(2, 0x100000009L, proposal, null));
        rec("quorum_packet_ack", new QuorumPacket(3, 0x100000009L, null, null));
        rec("quorum_packet_uptodate", new QuorumPacket(12, -1L, null, null));
        // REQUEST: sessionId, cxid, type, then the client's request body (Learner.request).
        ByteArrayOutputStream req = new ByteArrayOutputStream();
        DataOutputStream dout = new DataOutputStream(req);
        dout.writeLong(SESSION);
        dout.writeInt(5);
        dout.writeInt(ZooDefs.OpCode.delete);
        dout.write(ser(new DeleteRequest("/app/old", -1)));
        dout.flush();
        rec("quorum_packet_request", new QuorumPacket(1, -1L, req.toByteArray(), Arrays.asList(
            new Id("ip", "10.0.0.9"), new Id("digest", "alice"))));
        rec("quorum_packet_followerinfo", new QuorumPacket(11, 0x300000000L,
            ser(new LearnerInfo(3, 0x10000, 0x100000000L)), null));
        rec("quorum_packet_empty", new QuorumPacket(5, 0L, new byte[0], new ArrayList<>()));
        rec("quorum_learner_info", new LearnerInfo(3, 0x10000, 0x100000000L));
        rec("quorum_learner_info_extremes", new LearnerInfo(Long.MAX_VALUE, -1, Long.MIN_VALUE));
        rec("quorum_auth_packet", new QuorumAuthPacket(0xFA11L, 0, hex("6e74c4a1")));
        rec("quorum_auth_packet_null_token", new QuorumAuthPacket(-1L, 1, null));
    }

    static void election() throws Exception {
        Properties props = new Properties();
        props.setProperty("server.1", "10.0.0.1:2888:3888:participant;0.0.0.0:2181");
        props.setProperty("server.2", "10.0.0.2:2888:3888:participant;0.0.0.0:2181");
        props.setProperty("server.3", "10.0.0.3:2888:3888:observer;0.0.0.0:2181");
        props.setProperty("version", "100000000");
        byte[] config = new QuorumMaj(props).toString().getBytes(StandardCharsets.UTF_8);

        Class<?> fle = Class.forName("org.apache.zookeeper.server.quorum.FastLeaderElection");
        Method build6 = fle.getDeclaredMethod("buildMsg", int.class, long.class, long.class, long.class, long.class,
                                              byte[].class);
        Method build5 = fle.getDeclaredMethod("buildMsg", int.class, long.class, long.class, long.class, long.class);
        build6.setAccessible(true);
        build5.setAccessible(true);
        raw("election_notification", buf(build6.invoke(null,
            QuorumPeer.ServerState.LOOKING.ordinal(), 3L, 0x100000009L, 2L, 1L, config)));
        raw("election_notification_following", buf(build6.invoke(null,
            QuorumPeer.ServerState.FOLLOWING.ordinal(), 3L, 0L, 1L, 1L, new byte[0])));
        raw("election_notification_extremes", buf(build6.invoke(null,
            QuorumPeer.ServerState.OBSERVING.ordinal(), Long.MIN_VALUE, Long.MIN_VALUE, Long.MAX_VALUE, -1L,
            "version=0".getBytes(StandardCharsets.UTF_8))));
        raw("election_notification_legacy40", buf(build5.invoke(null,
            QuorumPeer.ServerState.LEADING.ordinal(), 2L, 0x500000003L, 7L, 5L)));

        handshake("election_handshake_v1", false);
        handshake("election_handshake_v2", true);
    }

    /**
     * The connection handshake as QuorumCnxManager.startConnection writes it: server 5 connects to
     * server 9, which has the higher id, so it writes its handshake and then drops the link.
     */
    static void handshake(String name, boolean multiAddress) throws Exception {
        Properties props = new Properties();
        props.setProperty("server.5", multiAddress
            ? "127.0.0.1:2888:3888|127.0.0.1:2889:3889;2181"
            : "127.0.0.1:2888:3888;2181");
        props.setProperty("server.9", "127.0.0.1:2898:3898;2191");
        // QuorumServer only parses several addresses with the multi-address feature on.
        System.setProperty(QuorumPeer.CONFIG_KEY_MULTI_ADDRESS_ENABLED, Boolean.toString(multiAddress));
        QuorumPeer peer = new QuorumPeer();
        peer.setMyid(5);
        peer.setMultiAddressEnabled(multiAddress);
        peer.setQuorumVerifier(new QuorumMaj(props), false);
        QuorumCnxManager cnx = new QuorumCnxManager(peer, 5, peer.getView(), new NullQuorumAuthServer(),
            new NullQuorumAuthLearner(), 1000, false, 20, false);
        Method start = QuorumCnxManager.class.getDeclaredMethod("startConnection", Socket.class, Long.class);
        start.setAccessible(true);
        CaptureSocket socket = new CaptureSocket();
        boolean kept = (Boolean) start.invoke(cnx, socket, 9L);
        if (kept) {
            throw new IllegalStateException("expected the lower id to drop its connection");
        }
        raw(name, socket.out.toByteArray());
    }

    static void persistence() throws Exception {
        rec("persistence_file_header_txn_log", new FileHeader(0x5a4b4c47, 2, 0L));
        rec("persistence_file_header_snapshot", new FileHeader(0x5a4b534e, 2, -1L));
    }

    static void multi() throws Exception {
        // Every write op kind. The Java client never sends create2 inside a multi, but the server
        // reads it (MultiOperationRecord.deserialize); the op's type is set to 15 by reflection.
        Op create2 = Op.create("/m/b", "2".getBytes(StandardCharsets.UTF_8), openAcl(), CreateMode.PERSISTENT);
        Field type = Op.class.getDeclaredField("type");
        type.setAccessible(true);
        type.setInt(create2, ZooDefs.OpCode.create2);
        rec("multi_request", new MultiOperationRecord(Arrays.asList(
            Op.create("/m/a", "1".getBytes(StandardCharsets.UTF_8), openAcl(), CreateMode.EPHEMERAL),
            create2,
            Op.create("/m/c", null, openAcl(), CreateMode.CONTAINER),
            Op.create("/m/t", new byte[0], mixedAcl(), CreateMode.PERSISTENT_WITH_TTL, 60000L),
            Op.delete("/m/old", -1),
            Op.setData("/m", "x".getBytes(StandardCharsets.UTF_8), 4),
            Op.check(UNICODE_PATH, 0))));
        rec("multi_request_empty", new MultiOperationRecord());
        rec("multi_read_request", new MultiOperationRecord(Arrays.asList(
            Op.getChildren("/m"),
            Op.getData("/m/a"),
            Op.getData(UNICODE_PATH))));

        MultiResponse ok = new MultiResponse();
        ok.add(new OpResult.CreateResult("/m/a"));
        ok.add(new OpResult.CreateResult("/m/b", statNode()));
        ok.add(new OpResult.CreateResult("/m/c", stat()));
        ok.add(new OpResult.DeleteResult());
        ok.add(new OpResult.SetDataResult(stat()));
        ok.add(new OpResult.CheckResult());
        rec("multi_response", ok);

        // A failed multi: every result is an error; 0 before the failure, -2 after it.
        MultiResponse failed = new MultiResponse();
        failed.add(new OpResult.ErrorResult(0));
        failed.add(new OpResult.ErrorResult(KeeperCode.NONODE));
        failed.add(new OpResult.ErrorResult(-2));
        rec("multi_response_failed", failed);
        rec("multi_response_empty", new MultiResponse());

        MultiResponse read = new MultiResponse();
        read.add(new OpResult.GetChildrenResult(Arrays.asList("a", "b", "c")));
        read.add(new OpResult.GetDataResult("1".getBytes(StandardCharsets.UTF_8), statNode()));
        read.add(new OpResult.GetDataResult(null, statNode()));
        read.add(new OpResult.GetChildrenResult(new ArrayList<>()));
        read.add(new OpResult.ErrorResult(KeeperCode.NONODE));
        rec("multi_read_response", read);
    }

    // ---------------------------------------------------------------------------------------

    /** KeeperException.Code values used above (ints, as on the wire). */
    static final class KeeperCode {
        static final int NONODE = -101;
        static final int NODEEXISTS = -110;
    }

    static final class CaptureSocket extends Socket {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();

        @Override
        public OutputStream getOutputStream() {
            return out;
        }

        @Override
        public InputStream getInputStream() {
            return new ByteArrayInputStream(new byte[0]);
        }

        @Override
        public synchronized void close() {
        }
    }

    static byte[] ser(Record r) throws IOException {
        ByteArrayOutputStream baos = new ByteArrayOutputStream();
        BinaryOutputArchive boa = BinaryOutputArchive.getArchive(baos);
        r.serialize(boa, "r");
        return baos.toByteArray();
    }

    static void rec(String name, Record r) throws IOException {
        raw(name, ser(r));
    }

    static void recWithBool(String name, Record r, boolean flag) throws IOException {
        ByteArrayOutputStream baos = new ByteArrayOutputStream();
        BinaryOutputArchive boa = BinaryOutputArchive.getArchive(baos);
        r.serialize(boa, "connect");
        boa.writeBool(flag, "readOnly");
        raw(name, baos.toByteArray());
    }

    static byte[] buf(Object byteBuffer) {
        ByteBuffer bb = (ByteBuffer) byteBuffer;
        byte[] out = new byte[bb.capacity()];
        System.arraycopy(bb.array(), 0, out, 0, out.length);
        return out;
    }

    static void raw(String name, byte[] bytes) throws IOException {
        if (!written.add(name)) {
            throw new IllegalStateException("duplicate vector name " + name);
        }
        Files.write(outDir.resolve(name + ".bin"), bytes);
    }

    static byte[] hex(String s) {
        byte[] out = new byte[s.length() / 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        }
        return out;
    }
}
