//! Load bench: request throughput of zk-client against the Java client (ZooKeeper 3.8's own), both
//! doing pipelined async getData of a 100-byte node on the same Apache ZooKeeper 3.8 server, with
//! the same number of requests in flight. Prints requests per second of each and the ratio.
//!
//! `cargo bench -p zk-benches --bench client` (needs Java and Debian's zookeeper package, as the
//! interop tests). Env: `ZK_BENCH_REQUESTS` (default 200000), `ZK_BENCH_WINDOW` (default 1000),
//! `ZK_BENCH_ROUNDS` (default 5, after one warm-up round).

use std::process::Command;
use std::time::{Duration, Instant};

use zk_client::{Acl, Client, CreateMode};

const JAVA_BENCH: &str = r#"
import org.apache.zookeeper.*;
import java.util.concurrent.*;

public class ZkGetDataBench {
    public static void main(String[] a) throws Exception {
        String address = a[0];
        int total = Integer.parseInt(a[1]);
        int window = Integer.parseInt(a[2]);
        int rounds = Integer.parseInt(a[3]);
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(address, 30000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) connected.countDown();
        });
        connected.await();
        for (int r = 0; r <= rounds; r++) {
            Semaphore slots = new Semaphore(window);
            CountDownLatch done = new CountDownLatch(total);
            long start = System.nanoTime();
            for (int i = 0; i < total; i++) {
                slots.acquire();
                zk.getData("/bench", false, (rc, path, ctx, data, stat) -> {
                    if (rc != 0) { System.err.println("rc " + rc); System.exit(1); }
                    slots.release();
                    done.countDown();
                }, null);
            }
            done.await();
            long ns = System.nanoTime() - start;
            if (r > 0) System.out.println((long) (total / (ns / 1e9)));
        }
        zk.close();
    }
}
"#;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn java_rates(address: &str, total: usize, window: usize, rounds: usize) -> Vec<f64> {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("ZkGetDataBench.java");
    std::fs::write(&src, JAVA_BENCH).expect("write java source");
    let classpath = zk_testkit::java_classpath();
    let status = Command::new("javac")
        .arg("-cp")
        .arg(&classpath)
        .arg("-d")
        .arg(dir.path())
        .arg(&src)
        .status()
        .expect("run javac");
    assert!(status.success(), "javac failed");
    let out = Command::new("java")
        .arg("-cp")
        .arg(format!("{}:{classpath}", dir.path().display()))
        .arg("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn")
        .arg("ZkGetDataBench")
        .args([
            address.to_owned(),
            total.to_string(),
            window.to_string(),
            rounds.to_string(),
        ])
        .output()
        .expect("run java bench");
    assert!(
        out.status.success(),
        "java bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn rust_rates(address: &str, total: usize, window: usize, rounds: usize) -> Vec<f64> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let client = Client::builder(address)
            .max_outstanding(window)
            .connect()
            .await
            .expect("connect");
        let mut rates = Vec::new();
        for round in 0..=rounds {
            let start = Instant::now();
            let mut workers = Vec::new();
            for w in 0..window {
                let c = client.clone();
                let n = total / window + usize::from(w < total % window);
                workers.push(tokio::spawn(async move {
                    for _ in 0..n {
                        c.get_data("/bench").await.expect("getData");
                    }
                }));
            }
            for w in workers {
                w.await.expect("worker");
            }
            let rate = total as f64 / start.elapsed().as_secs_f64();
            if round > 0 {
                rates.push(rate);
            }
        }
        client.close().await;
        rates
    })
}

fn main() {
    // `cargo test --benches` runs this with no `--bench`: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let total = env("ZK_BENCH_REQUESTS", 200_000);
    let window = env("ZK_BENCH_WINDOW", 1000);
    let rounds = env("ZK_BENCH_ROUNDS", 5).max(1);
    let server = zk_testkit::ApacheServer::start();
    let address = server.address();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = Client::connect(&address, Duration::from_secs(30))
            .await
            .expect("connect");
        c.create(
            "/bench",
            &[b'x'; 100],
            &Acl::open_unsafe(),
            CreateMode::Persistent,
        )
        .await
        .expect("create /bench");
        c.close().await;
    });
    drop(rt);
    println!(
        "pipelined getData of 100 bytes, {total} requests per round, {window} in flight, \
         median of {rounds} rounds, Apache ZooKeeper 3.8 at {address}"
    );
    let java = median(java_rates(&address, total, window, rounds));
    println!("java client (3.8.0, NIO): {java:>10.0} req/s");
    let rust = median(rust_rates(&address, total, window, rounds));
    println!("zk-client:                {rust:>10.0} req/s");
    println!("ratio zk-client / java:   {:>10.2}", rust / java);
}
