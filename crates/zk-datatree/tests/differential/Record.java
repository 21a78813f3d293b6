// Runs a scripted sequence of operations against a real Apache ZooKeeper 3.8 with the Java client
// and prints one JSON object per line: each request with its result and the watch events every
// client received because of it. `Record dump <logdir>` prints the server's txn log instead.
// Used by record.sh; the Rust test (../differential.rs) replays the same requests through
// prep + apply and compares.

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.jute.BinaryOutputArchive;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.server.persistence.FileTxnLog;
import org.apache.zookeeper.server.persistence.TxnLog;
import org.apache.zookeeper.txn.TxnDigest;
import org.apache.zookeeper.txn.TxnHeader;

public class Record {
    static final List<ZooKeeper> clients = new ArrayList<>();
    static final List<List<String>> events = new ArrayList<>();
    static String connect;

    // ---- JSON helpers ----
    static String q(String s) {
        if (s == null) return "null";
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    static String hex(byte[] b) {
        if (b == null) return "null";
        StringBuilder s = new StringBuilder("\"");
        for (byte x : b) s.append(String.format("%02x", x));
        return s.append('"').toString();
    }

    static String stat(Stat s) {
        if (s == null) return "null";
        return "[" + s.getCzxid() + "," + s.getMzxid() + "," + s.getCtime() + "," + s.getMtime() + ","
            + s.getVersion() + "," + s.getCversion() + "," + s.getAversion() + "," + s.getEphemeralOwner()
            + "," + s.getDataLength() + "," + s.getNumChildren() + "," + s.getPzxid() + "]";
    }

    static String acls(List<ACL> acl) {
        if (acl == null) return "null";
        List<String> out = new ArrayList<>();
        for (ACL a : acl) out.add("[" + a.getPerms() + "," + q(a.getId().getScheme()) + "," + q(a.getId().getId()) + "]");
        return "[" + String.join(",", out) + "]";
    }

    static String strings(List<String> l) {
        List<String> out = new ArrayList<>();
        for (String s : l) out.add(q(s));
        return "[" + String.join(",", out) + "]";
    }

    static byte[] bytes(String s) {
        return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
    }

    // ---- clients and events ----
    static void open(int n) throws Exception {
        for (int i = 0; i < n; i++) {
            final int idx = i;
            events.add(Collections.synchronizedList(new ArrayList<>()));
            CountDownLatch connected = new CountDownLatch(1);
            ZooKeeper zk = new ZooKeeper(connect, 30000, (WatchedEvent e) -> {
                if (e.getType() == Watcher.Event.EventType.None) {
                    if (e.getState() == Watcher.Event.KeeperState.SyncConnected) connected.countDown();
                    return;
                }
                events.get(idx).add("[" + idx + "," + e.getType().getIntValue() + "," + q(e.getPath()) + "]");
            });
            if (!connected.await(20, TimeUnit.SECONDS)) throw new RuntimeException("no connection");
            clients.add(zk);
            System.out.println("{\"op\":\"connect\",\"client\":" + i + ",\"session\":" + zk.getSessionId() + "}");
        }
    }

    /** Waits until every event queued before now has reached each client's watcher. */
    static String drainEvents() throws Exception {
        for (int i = 0; i < clients.size(); i++) {
            ZooKeeper zk = clients.get(i);
            if (zk == null) continue;
            CountDownLatch done = new CountDownLatch(1);
            zk.exists("/", false, (rc, path, ctx, stat) -> done.countDown(), null);
            if (!done.await(20, TimeUnit.SECONDS)) throw new RuntimeException("barrier timed out");
        }
        List<String> all = new ArrayList<>();
        for (List<String> l : events) {
            synchronized (l) {
                all.addAll(l);
                l.clear();
            }
        }
        return "[" + String.join(",", all) + "]";
    }

    interface Call {
        String run(ZooKeeper zk) throws Exception;
    }

    /** Runs one request on client `c`; `req` is the JSON of the request fields. */
    static void step(int c, String op, String req, Call call) throws Exception {
        String result;
        try {
            result = "{\"err\":0," + call.run(clients.get(c)) + "}";
        } catch (KeeperException e) {
            String multi = "";
            if (e.getResults() != null) multi = ",\"multi\":" + opResults(e.getResults());
            result = "{\"err\":" + e.code().intValue() + multi + "}";
        }
        System.out.println("{\"op\":" + q(op) + ",\"client\":" + c + "," + req + ",\"result\":" + result
            + ",\"events\":" + drainEvents() + "}");
    }

    static String opResults(List<OpResult> results) {
        List<String> out = new ArrayList<>();
        for (OpResult r : results) {
            String s = "{\"type\":" + r.getType();
            if (r instanceof OpResult.CreateResult) {
                s += ",\"path\":" + q(((OpResult.CreateResult) r).getPath()) + ",\"stat\":" + stat(((OpResult.CreateResult) r).getStat());
            } else if (r instanceof OpResult.SetDataResult) {
                s += ",\"stat\":" + stat(((OpResult.SetDataResult) r).getStat());
            } else if (r instanceof OpResult.ErrorResult) {
                s += ",\"err\":" + ((OpResult.ErrorResult) r).getErr();
            }
            out.add(s + "}");
        }
        return "[" + String.join(",", out) + "]";
    }

    static String reqCreate(int opcode, String path, String data, List<ACL> acl, CreateMode mode, long ttl) {
        return "\"opcode\":" + opcode + ",\"path\":" + q(path) + ",\"data\":" + hex(bytes(data)) + ",\"acl\":" + acls(acl)
            + ",\"flags\":" + mode.toFlag() + ",\"ttl\":" + ttl;
    }

    /** create(path, data, acl, mode) without stat: opcode 1 (19 for containers). */
    static void create(int c, String path, String data, List<ACL> acl, CreateMode mode) throws Exception {
        int opcode = mode.isContainer() ? 19 : 1;
        step(c, "create", reqCreate(opcode, path, data, acl, mode, -1),
            zk -> "\"path\":" + q(zk.create(path, bytes(data), acl, mode)));
    }

    /** create(path, data, acl, mode, stat[, ttl]): opcode 15, 19 or 21, with the stat. */
    static void create2(int c, String path, String data, List<ACL> acl, CreateMode mode, long ttl) throws Exception {
        int opcode = mode.isContainer() ? 19 : mode.isTTL() ? 21 : 15;
        step(c, "create", reqCreate(opcode, path, data, acl, mode, ttl), zk -> {
            Stat s = new Stat();
            String p = ttl >= 0 ? zk.create(path, bytes(data), acl, mode, s, ttl) : zk.create(path, bytes(data), acl, mode, s);
            return "\"path\":" + q(p) + ",\"stat\":" + stat(s);
        });
    }

    static void delete(int c, String path, int version) throws Exception {
        step(c, "delete", "\"path\":" + q(path) + ",\"version\":" + version, zk -> {
            zk.delete(path, version);
            return "\"done\":true";
        });
    }

    static void setData(int c, String path, String data, int version) throws Exception {
        step(c, "setData", "\"path\":" + q(path) + ",\"data\":" + hex(bytes(data)) + ",\"version\":" + version,
            zk -> "\"stat\":" + stat(zk.setData(path, bytes(data), version)));
    }

    static void setAcl(int c, String path, List<ACL> acl, int version) throws Exception {
        step(c, "setACL", "\"path\":" + q(path) + ",\"acl\":" + acls(acl) + ",\"version\":" + version,
            zk -> "\"stat\":" + stat(zk.setACL(path, acl, version)));
    }

    static void getData(int c, String path, boolean watch) throws Exception {
        step(c, "getData", "\"path\":" + q(path) + ",\"watch\":" + watch, zk -> {
            Stat s = new Stat();
            byte[] d = zk.getData(path, watch, s);
            return "\"data\":" + hex(d) + ",\"stat\":" + stat(s);
        });
    }

    static void exists(int c, String path, boolean watch) throws Exception {
        step(c, "exists", "\"path\":" + q(path) + ",\"watch\":" + watch, zk -> {
            Stat s = zk.exists(path, watch);
            if (s == null) throw KeeperException.create(KeeperException.Code.NONODE);
            return "\"stat\":" + stat(s);
        });
    }

    static void getChildren(int c, String path, boolean watch) throws Exception {
        step(c, "getChildren", "\"path\":" + q(path) + ",\"watch\":" + watch, zk -> {
            Stat s = new Stat();
            List<String> ch = new ArrayList<>(zk.getChildren(path, watch, s));
            Collections.sort(ch);
            return "\"children\":" + strings(ch) + ",\"stat\":" + stat(s);
        });
    }

    static void getAcl(int c, String path) throws Exception {
        step(c, "getACL", "\"path\":" + q(path), zk -> {
            Stat s = new Stat();
            List<ACL> acl = zk.getACL(path, s);
            return "\"acl\":" + acls(acl) + ",\"stat\":" + stat(s);
        });
    }

    static void allChildren(int c, String path) throws Exception {
        step(c, "getAllChildrenNumber", "\"path\":" + q(path), zk -> "\"number\":" + zk.getAllChildrenNumber(path));
    }

    static void ephemerals(int c, String prefix) throws Exception {
        step(c, "getEphemerals", "\"path\":" + q(prefix), zk -> {
            List<String> e = new ArrayList<>(zk.getEphemerals(prefix));
            Collections.sort(e);
            return "\"children\":" + strings(e);
        });
    }

    static void addWatch(int c, String path, AddWatchMode mode) throws Exception {
        step(c, "addWatch", "\"path\":" + q(path) + ",\"mode\":" + mode.getMode(), zk -> {
            zk.addWatch(path, mode);
            return "\"done\":true";
        });
    }

    static void removeWatches(int c, String path, Watcher.WatcherType type) throws Exception {
        step(c, "removeWatches", "\"path\":" + q(path) + ",\"type\":" + type.getIntValue(), zk -> {
            zk.removeAllWatches(path, type, false);
            return "\"done\":true";
        });
    }

    static String opJson(Op op) {
        String base = "{\"type\":" + op.getType() + ",\"path\":" + q(op.getPath());
        if (op instanceof Op.Create) {
            Op.Create cr = (Op.Create) op;
            org.apache.zookeeper.proto.CreateRequest r = (org.apache.zookeeper.proto.CreateRequest) cr.toRequestRecord();
            base += ",\"data\":" + hex(r.getData()) + ",\"acl\":" + acls(r.getAcl()) + ",\"flags\":" + r.getFlags();
        } else if (op instanceof Op.SetData) {
            org.apache.zookeeper.proto.SetDataRequest r = (org.apache.zookeeper.proto.SetDataRequest) op.toRequestRecord();
            base += ",\"data\":" + hex(r.getData()) + ",\"version\":" + r.getVersion();
        } else if (op instanceof Op.Delete) {
            base += ",\"version\":" + ((org.apache.zookeeper.proto.DeleteRequest) op.toRequestRecord()).getVersion();
        } else if (op instanceof Op.Check) {
            base += ",\"version\":" + ((org.apache.zookeeper.proto.CheckVersionRequest) op.toRequestRecord()).getVersion();
        }
        return base + "}";
    }

    static void multi(int c, Op... ops) throws Exception {
        List<String> js = new ArrayList<>();
        for (Op op : ops) js.add(opJson(op));
        step(c, "multi", "\"ops\":[" + String.join(",", js) + "]",
            zk -> "\"multi\":" + opResults(zk.multi(Arrays.asList(ops))));
    }

    static void close(int c) throws Exception {
        clients.get(c).close();
        clients.set(c, null);
        System.out.println("{\"op\":\"close\",\"client\":" + c + ",\"events\":" + drainEvents() + "}");
    }

    static void auth(int c, String userPassword) throws Exception {
        clients.get(c).addAuthInfo("digest", bytes(userPassword));
        System.out.println("{\"op\":\"auth\",\"client\":" + c + ",\"scheme\":\"digest\",\"auth\":" + q(userPassword)
            + ",\"events\":" + drainEvents() + "}");
    }

    static List<ACL> acl(int perms, String scheme, String id) {
        return Collections.singletonList(new ACL(perms, new Id(scheme, id)));
    }

    public static void main(String[] args) throws Exception {
        if (args[0].equals("dump")) {
            dump(args[1]);
            return;
        }
        connect = args[0];
        List<ACL> open = ZooDefs.Ids.OPEN_ACL_UNSAFE;
        open(3); // 0: plain, 1: authenticates as alice, 2: watches
        auth(1, "alice:pw");

        // Watches set before the nodes exist.
        exists(2, "/a", true);
        getChildren(2, "/", true);
        getData(2, "/zookeeper/config", false);

        // Every node kind.
        create(0, "/a", "hello", open, CreateMode.PERSISTENT);
        create2(0, "/a/b", null, open, CreateMode.PERSISTENT, -1);
        create(0, "/a/s-", "", open, CreateMode.PERSISTENT_SEQUENTIAL);
        create2(0, "/a/s-", "x", open, CreateMode.PERSISTENT_SEQUENTIAL, -1);
        getChildren(2, "/a", true);
        create(0, "/a/e", "eph", open, CreateMode.EPHEMERAL);
        create2(0, "/a/es-", null, open, CreateMode.EPHEMERAL_SEQUENTIAL, -1);
        create(0, "/c", null, open, CreateMode.CONTAINER);
        create2(0, "/c2", "k", open, CreateMode.CONTAINER, -1);
        create(0, "/c/x", "1", open, CreateMode.PERSISTENT);
        getChildren(2, "/c", true);
        exists(2, "/c/x", true);
        delete(0, "/c/x", -1);
        create2(0, "/t", null, open, CreateMode.PERSISTENT_WITH_TTL, 5000);
        create(0, "/root-seq-", null, open, CreateMode.PERSISTENT_SEQUENTIAL);

        // Stats and the cversion quirk.
        getData(0, "/a", false);
        getChildren(0, "/a", false);
        exists(0, "/a/b", false);
        getData(0, "/a/b", false);
        exists(0, "/", false);
        getData(0, "/zookeeper", false);
        allChildren(0, "/");
        allChildren(0, "/a");
        ephemerals(0, "/a/e");
        ephemerals(0, "/");
        ephemerals(1, "/");

        // setData and delete, with their errors.
        getData(2, "/a", true);
        setData(0, "/a", "v2", 0);
        setData(0, "/a", "v3", 0);
        setData(0, "/missing", "x", -1);
        setData(0, "/a", null, -1);
        delete(0, "/a", -1);
        delete(0, "/missing", -1);
        delete(0, "/missing/x", -1);
        delete(0, "/zookeeper", -1);
        delete(0, "/zookeeper/config", -1);
        delete(0, "/a/b", 3);
        create(0, "/a", null, open, CreateMode.PERSISTENT);
        create(0, "/missing/x", null, open, CreateMode.PERSISTENT);
        create(0, "/a/e/x", null, open, CreateMode.PERSISTENT);
        create(0, "/zookeeper/config/x", null, open, CreateMode.PERSISTENT);
        setData(0, "/zookeeper/config", "x", -1);

        // ACLs.
        List<ACL> secret = new ArrayList<>(ZooDefs.Ids.CREATOR_ALL_ACL);
        secret.add(new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE));
        create(1, "/secret", "s", secret, CreateMode.PERSISTENT);
        create(0, "/nope", null, ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
        create(0, "/nope", null, acl(31, "digest", "nocolon"), CreateMode.PERSISTENT);
        create(0, "/nope", null, acl(31, "ip", "300.1.1.1"), CreateMode.PERSISTENT);
        getData(0, "/secret", false);
        getAcl(0, "/secret");
        getAcl(1, "/secret");
        setData(0, "/secret", "x", -1);
        setData(1, "/secret", "y", -1);
        create(0, "/secret/x", null, open, CreateMode.PERSISTENT);
        create(1, "/secret/x", null, open, CreateMode.PERSISTENT);
        setAcl(0, "/secret", open, -1);
        setAcl(1, "/secret", ZooDefs.Ids.READ_ACL_UNSAFE, 7);
        setAcl(1, "/secret/x", acl(ZooDefs.Perms.READ | ZooDefs.Perms.ADMIN, "digest", "alice:V55/p2T0OpjQ+low3NVAH4aLvm0="), 0);
        getData(1, "/secret/x", false);
        getData(0, "/secret/x", false);
        getAcl(0, "/secret/x");
        delete(0, "/secret/x", -1);
        create(0, "/ip", null, acl(31, "ip", "127.0.0.1"), CreateMode.PERSISTENT);
        create(0, "/ip/net", null, acl(ZooDefs.Perms.READ, "ip", "127.0.0.0/8"), CreateMode.PERSISTENT);
        create(0, "/ip/far", null, acl(ZooDefs.Perms.READ, "ip", "10.0.0.0/8"), CreateMode.PERSISTENT);
        getData(0, "/ip/net", false);
        getData(0, "/ip/far", false);
        getChildren(0, "/ip/far", false);
        allChildren(0, "/ip/far");
        exists(0, "/ip/far", false);
        getAcl(0, "/ip/far");
        setData(0, "/ip/net", "z", -1);
        setAcl(1, "/ip/far", open, -1);

        // multi: success, failure in the middle, version check failure.
        multi(0, Op.create("/m", "m".getBytes(), open, CreateMode.PERSISTENT),
            Op.create("/m/a", null, open, CreateMode.PERSISTENT_SEQUENTIAL),
            Op.check("/m", 0),
            Op.setData("/m", "m2".getBytes(), 0),
            Op.create("/m/c", null, open, CreateMode.CONTAINER));
        getData(2, "/m", true);
        multi(0, Op.create("/m/b", null, open, CreateMode.PERSISTENT),
            Op.delete("/nope", -1),
            Op.setData("/m", "m3".getBytes(), -1));
        multi(0, Op.setData("/m", "m4".getBytes(), -1),
            Op.check("/m", 0),
            Op.delete("/m/c", -1));
        multi(0, Op.create("/m/s-", null, open, CreateMode.PERSISTENT_SEQUENTIAL),
            Op.create("/m/s-", null, open, CreateMode.PERSISTENT_SEQUENTIAL),
            Op.delete("/m/a0000000000", -1),
            Op.delete("/m", -1));
        multi(0, Op.create("/m/d", null, open, CreateMode.PERSISTENT),
            Op.delete("/m/d", -1));
        getData(0, "/m", false);
        getChildren(0, "/m", false);

        // Persistent and recursive watches.
        addWatch(2, "/p", AddWatchMode.PERSISTENT);
        addWatch(2, "/r", AddWatchMode.PERSISTENT_RECURSIVE);
        create(0, "/p", null, open, CreateMode.PERSISTENT);
        create(0, "/p/c", null, open, CreateMode.PERSISTENT);
        setData(0, "/p", "1", -1);
        setData(0, "/p/c", "1", -1);
        delete(0, "/p/c", -1);
        create(0, "/r", null, open, CreateMode.PERSISTENT);
        create(0, "/r/x", null, open, CreateMode.PERSISTENT);
        create(0, "/r/x/y", "deep", open, CreateMode.PERSISTENT);
        setData(0, "/r/x/y", "deeper", -1);
        delete(0, "/r/x/y", -1);
        removeWatches(2, "/p", Watcher.WatcherType.Any);
        setData(0, "/p", "2", -1);
        delete(0, "/p", -1);
        setData(0, "/r/x", "still", -1);
        exists(2, "/gone", true);
        removeWatches(2, "/gone", Watcher.WatcherType.Data);
        create(0, "/gone", null, open, CreateMode.PERSISTENT);

        // Closing a session removes its ephemerals and fires their watches.
        getChildren(2, "/a", true);
        exists(2, "/a/e", true);
        close(0);
        getChildren(1, "/a", false);
        getData(1, "/a", false);
        close(1);
        close(2);
    }

    static void dump(String dir) throws Exception {
        TxnLog.TxnIterator it = new FileTxnLog(new File(dir)).read(0);
        while (it.getHeader() != null) {
            TxnHeader h = it.getHeader();
            org.apache.jute.Record txn = it.getTxn();
            TxnDigest d = it.getDigest();
            String body = "null";
            if (txn != null) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                txn.serialize(BinaryOutputArchive.getArchive(out), "txn");
                body = hex(out.toByteArray());
            }
            System.out.println("{\"txn\":true,\"session\":" + h.getClientId() + ",\"cxid\":" + h.getCxid()
                + ",\"zxid\":" + h.getZxid() + ",\"time\":" + h.getTime() + ",\"type\":" + h.getType()
                + ",\"body\":" + body + ",\"digest\":" + (d == null ? "null" : String.valueOf(d.getTreeDigest())) + "}");
            if (!it.next()) break;
        }
        it.close();
    }
}
