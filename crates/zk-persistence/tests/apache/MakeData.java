// Drives a real Apache ZooKeeper 3.8 server to produce a data directory with nodes of every kind,
// ACLs, sessions with ephemerals, failed writes and multis, several snapshots and log files, then
// dumps the final tree as the client sees it (tree.txt). Run by make-datadir.sh.

import java.nio.charset.StandardCharsets;
import java.io.PrintWriter;
import java.util.*;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.*;
import org.apache.zookeeper.data.*;

public class MakeData {
    static ZooKeeper connect(String hosts) throws Exception {
        CountDownLatch up = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(hosts, 30000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) up.countDown();
        });
        if (!up.await(30, TimeUnit.SECONDS)) throw new IllegalStateException("no connection");
        return zk;
    }

    static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    public static void main(String[] args) throws Exception {
        String hosts = args[0];
        List<ACL> open = ZooDefs.Ids.OPEN_ACL_UNSAFE;
        ZooKeeper a = connect(hosts);   // stays open: its ephemerals survive in the data directory
        ZooKeeper b = connect(hosts);   // closed at the end: its ephemerals go with it
        ZooKeeper c = connect(hosts);   // stays open
        a.addAuthInfo("digest", b("alice:secret"));
        c.addAuthInfo("digest", b("alice:secret"));

        a.create("/app", b("application"), open, CreateMode.PERSISTENT);
        a.create("/app/config", b("{\"k\": 1}"), open, CreateMode.PERSISTENT);
        for (int i = 0; i < 3; i++) a.create("/app/seq-", b("s" + i), open, CreateMode.PERSISTENT_SEQUENTIAL);
        a.create("/app/eph-a", b("owned by a"), open, CreateMode.EPHEMERAL);
        c.create("/app/eph-c-", null, open, CreateMode.EPHEMERAL_SEQUENTIAL);
        b.create("/app/eph-b", b("owned by b"), open, CreateMode.EPHEMERAL);
        a.create("/null-data", null, open, CreateMode.PERSISTENT);
        a.create("/empty-data", new byte[0], open, CreateMode.PERSISTENT);
        a.create("/binary", new byte[] {0, (byte) 0xff, (byte) 0xc3, 0x28, 10, 0}, open, CreateMode.PERSISTENT);
        a.create("/unicode-\u00e9\u4e2d", b("caf\u00e9"), open, CreateMode.PERSISTENT);
        a.create("/container", null, open, CreateMode.CONTAINER);
        a.create("/container/child", b("keeps the container"), open, CreateMode.PERSISTENT);
        a.create("/ttl", b("ttl node"), open, CreateMode.PERSISTENT_WITH_TTL, new Stat(), 3_600_000L);
        a.create("/ttl-seq-", b("ttl seq"), open, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, new Stat(), 7_200_000L);
        a.create("/secure", b("alice only"), ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
        a.create("/secure/inner", b("alice too"), ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
        a.create("/readonly", b("read me"), ZooDefs.Ids.READ_ACL_UNSAFE, CreateMode.PERSISTENT);
        List<ACL> mixed = new ArrayList<>();
        mixed.add(new ACL(ZooDefs.Perms.READ | ZooDefs.Perms.WRITE, new Id("ip", "127.0.0.1")));
        mixed.add(new ACL(ZooDefs.Perms.ALL, new Id("world", "anyone")));
        a.create("/mixed-acl", b("mixed"), mixed, CreateMode.PERSISTENT);
        a.setACL("/app/config", ZooDefs.Ids.CREATOR_ALL_ACL, -1);
        a.setACL("/app/config", open, 1);
        // Failed writes become error txns.
        try { a.create("/app", null, open, CreateMode.PERSISTENT); } catch (KeeperException.NodeExistsException e) { }
        try { a.setData("/app", b("x"), 42); } catch (KeeperException.BadVersionException e) { }
        try { a.delete("/nope", -1); } catch (KeeperException.NoNodeException e) { }
        // A multi that succeeds and one that fails half way.
        a.multi(Arrays.asList(
            Op.create("/multi", b("m"), open, CreateMode.PERSISTENT),
            Op.create("/multi/child", b("mc"), open, CreateMode.PERSISTENT),
            Op.setData("/app", b("application v2"), -1),
            Op.check("/app", 1)));
        try {
            a.multi(Arrays.asList(
                Op.create("/multi/never", b("n"), open, CreateMode.PERSISTENT),
                Op.delete("/does-not-exist", -1),
                Op.setData("/app", b("never"), -1)));
        } catch (KeeperException e) { }
        // Bulk writes so that snapCount rolls the log and takes several snapshots.
        a.create("/bulk", null, open, CreateMode.PERSISTENT);
        for (int i = 0; i < 120; i++) {
            String p = String.format("/bulk/n%03d", i);
            a.create(p, b("v" + i), open, CreateMode.PERSISTENT);
            if (i % 3 == 0) a.setData(p, b("w" + i), -1);
            if (i % 7 == 0) a.delete(p, -1);
        }
        a.delete("/empty-data", -1);
        a.create("/empty-data", new byte[0], open, CreateMode.PERSISTENT);
        c.create("/app/eph-c2", b("second of c"), open, CreateMode.EPHEMERAL);
        b.close();

        try (PrintWriter out = new PrintWriter(args[1], "UTF-8")) {
            dump(a, "/", out);
        }
        // Sessions a and c stay open: the script kills the server.
        System.out.println("sessions " + Long.toHexString(a.getSessionId()) + " " + Long.toHexString(c.getSessionId()));
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }

    static String hex(byte[] data) {
        if (data == null) return "null";
        StringBuilder sb = new StringBuilder("x");
        for (byte x : data) sb.append(String.format("%02x", x));
        return sb.toString();
    }

    static void dump(ZooKeeper zk, String path, PrintWriter out) throws Exception {
        Stat stat = new Stat();
        byte[] data = zk.getData(path, false, stat);
        List<ACL> acls = zk.getACL(path, new Stat());
        StringBuilder acl = new StringBuilder();
        for (ACL x : acls) acl.append(x.getPerms()).append(':').append(x.getId().getScheme()).append(':').append(x.getId().getId()).append(';');
        out.printf("%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s%n", path,
            stat.getCzxid(), stat.getMzxid(), stat.getCtime(), stat.getMtime(), stat.getVersion(),
            stat.getCversion(), stat.getAversion(), stat.getEphemeralOwner(), stat.getDataLength(),
            stat.getNumChildren(), stat.getPzxid(), hex(data), acl);
        List<String> children = zk.getChildren(path, false);
        Collections.sort(children);
        for (String child : children) dump(zk, (path.equals("/") ? "" : path) + "/" + child, out);
    }
}
