//! The workloads. Every load run has an unrecorded warm-up, then a measured window; an operation
//! counts when it was issued inside the window and completed before its end.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::{sleep, sleep_until, timeout};
use zookeeper_client::{Acls, Client, CreateMode, Error, EventType};

use crate::args::{Op, Options, Workload};
use crate::stats::{Sample, Tally, latency_json, resources_json, rss_kb};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sessions connected at once while setting up many.
const CONNECT_CONCURRENCY: usize = 32;

/// The measured window of a run.
#[derive(Debug, Clone, Copy)]
struct Window {
    from: Instant,
    end: Instant,
}

impl Window {
    fn new(options: &Options) -> Window {
        let from = Instant::now() + options.warmup;
        Window {
            from,
            end: from + options.duration,
        }
    }

    fn counts(&self, issued: Instant, done: Instant) -> bool {
        issued >= self.from && done <= self.end
    }
}

pub(crate) async fn run(options: &Options) -> Result<Value> {
    match &options.workload {
        Workload::Probe {
            path,
            expect_size,
            timeout,
        } => probe(options, path, *expect_size, *timeout).await,
        Workload::Populate {
            count,
            parents,
            depth,
        } => populate(options, *count, *parents, *depth).await,
        Workload::Watch { watchers } => watch(options, *watchers).await,
        Workload::Failover {
            kill_pid,
            kill_after,
            read_ratio,
        } => failover(options, *kill_pid, *kill_after, *read_ratio).await,
        _ => closed_or_pipelined(options).await,
    }
}

/// One human line for stderr.
pub(crate) fn summary(report: &Value) -> String {
    let mut line = format!("{}:", report["workload"].as_str().unwrap_or("?"));
    for (key, label) in [
        ("ops_per_sec", "ops/s"),
        ("errors", "errors"),
        ("server_cpu_us_per_op", "server µs/op"),
        ("server_rss_kb", "server RSS KiB"),
        ("failover_ms", "failover ms"),
        ("ok_epoch_ms", "ok at"),
    ] {
        if let Some(v) = report.get(key).filter(|v| !v.is_null()) {
            line.push_str(&format!(" {label} {v}"));
        }
    }
    if let Some(lat) = report.get("lat_us").filter(|l| l["count"] != 0) {
        line.push_str(&format!(
            " p50 {}µs p99 {}µs p999 {}µs",
            lat["p50"], lat["p99"], lat["p999"]
        ));
    }
    line
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
}

async fn connect(options: &Options, index: usize) -> Result<Client> {
    let cluster = options.connect_string(index);
    Client::connector()
        .with_session_timeout(options.session_timeout)
        .connect(&cluster)
        .await
        .with_context(|| format!("session {index} cannot connect to {cluster}"))
}

async fn connect_all(options: &Options, n: usize) -> Result<Vec<Client>> {
    futures::stream::iter(0..n)
        .map(|i| connect(options, i))
        .buffered(CONNECT_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Creates `path` with `data`, or sets `data` on it when it exists.
async fn ensure(client: &Client, path: &str, data: &[u8]) -> Result<()> {
    let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
    match client.create(path, data, &options).await {
        Ok(_) => Ok(()),
        Err(Error::NodeExists) => {
            client
                .set_data(path, data, None)
                .await
                .with_context(|| format!("setData {path}"))?;
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("create {path}")),
    }
}

/// The parts of the report every run has.
fn report(
    options: &Options,
    window_secs: f64,
    tally: &Tally,
    resources: Value,
    extra: Value,
) -> Value {
    let mut out = json!({
        "workload": options.workload.name(),
        "clients": options.clients,
        "servers": options.servers.join(","),
        "size": options.size,
        "duration_s": (window_secs * 1000.0).round() / 1000.0,
        "ops": tally.ops(),
        "ops_per_sec": (tally.ops() as f64 / window_secs.max(1e-9)).round(),
        "errors": tally.error_count(),
        "error_kinds": tally.errors,
        "lat_us": latency_json(&tally.latency),
    });
    let map = out.as_object_mut().expect("object");
    for source in [resources, extra] {
        if let Value::Object(fields) = source {
            map.extend(fields);
        }
    }
    out
}

/// Samples the servers at the start and the end of the window.
fn sample_window(pids: Vec<u32>, window: Window) -> tokio::task::JoinHandle<(Sample, Sample)> {
    tokio::spawn(async move {
        sleep_until(window.from.into()).await;
        let start = Sample::take(&pids);
        sleep_until(window.end.into()).await;
        (start, Sample::take(&pids))
    })
}

/// What one operation of a closed-loop or pipelined session does.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Get,
    Set,
    Multi,
}

fn choose(op: Op, rng: &mut fastrand::Rng) -> Step {
    match op {
        Op::Read => Step::Get,
        Op::Write => Step::Set,
        Op::Mixed(r) if rng.f64() < r => Step::Get,
        Op::Mixed(_) => Step::Set,
    }
}

/// A session's own znodes.
#[derive(Debug, Clone)]
struct Target {
    node: String,
    multi: Vec<String>,
}

/// Issues one step; the request is sent before this returns (the client sends on call).
fn issue<'a>(
    client: &'a Client,
    step: Step,
    target: &Target,
    data: &Arc<Vec<u8>>,
) -> BoxFuture<'a, Result<()>> {
    match step {
        Step::Get => {
            let f = client.get_data(&target.node);
            Box::pin(async move { f.await.map(drop).map_err(Into::into) })
        }
        Step::Set => {
            let f = client.set_data(&target.node, data, None);
            Box::pin(async move { f.await.map(drop).map_err(Into::into) })
        }
        Step::Multi => {
            let mut writer = client.new_multi_writer();
            for path in &target.multi {
                if let Err(e) = writer.add_set_data(path, data, None) {
                    return Box::pin(async move { Err(e.into()) });
                }
            }
            let f = writer.commit();
            Box::pin(async move { f.await.map(drop).map_err(|e| Error::from(e).into()) })
        }
    }
}

fn error_kind(e: &anyhow::Error) -> String {
    match e.downcast_ref::<Error>() {
        Some(z) => format!("{z:?}"),
        None => e.to_string(),
    }
}

async fn closed_or_pipelined(options: &Options) -> Result<Value> {
    let n = options.clients;
    let setup = connect(options, 0).await?;
    let data = Arc::new(payload(options.size));
    ensure(&setup, &options.root, b"").await?;
    let multi_ops = match options.workload {
        Workload::Multi { ops } => ops,
        _ => 0,
    };
    let mut targets = Vec::new();
    for i in 0..n {
        let node = format!("{}/c{i}", options.root);
        let multi: Vec<String> = (0..multi_ops).map(|k| format!("{node}-m{k}")).collect();
        targets.push(Target { node, multi });
    }
    let creates: Vec<_> = targets
        .iter()
        .flat_map(|t| std::iter::once(&t.node).chain(&t.multi))
        .map(|p| ensure(&setup, p, &data))
        .collect();
    for r in futures::future::join_all(creates).await {
        r?;
    }
    let clients = connect_all(options, n).await?;
    let window = Window::new(options);
    let sampler = sample_window(options.server_pids.clone(), window);
    let mut tasks = Vec::new();
    for (i, (client, target)) in clients.into_iter().zip(targets).enumerate() {
        let data = data.clone();
        let workload = options.workload.clone();
        let op_timeout = options.session_timeout;
        let root = options.root.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(i as u64 + 1);
            match workload {
                Workload::Pipeline { depth, op } => {
                    pipelined(
                        &client, &target, &data, depth, op, window, op_timeout, &mut rng,
                    )
                    .await
                }
                Workload::Write {
                    create_delete: true,
                } => create_delete(&client, &format!("{root}/cd{i}"), &data, window).await,
                other => {
                    let op = match other {
                        Workload::Read => Op::Read,
                        Workload::Mixed { read_ratio } => Op::Mixed(read_ratio),
                        _ => Op::Write,
                    };
                    let multi = matches!(other, Workload::Multi { .. });
                    closed(
                        &client, &target, &data, op, multi, window, op_timeout, &mut rng,
                    )
                    .await
                }
            }
        }));
    }
    let mut tally = Tally::new();
    for task in tasks {
        tally.merge(&task.await.context("load task")?);
    }
    let (start, end) = sampler.await.context("sampler")?;
    let secs = (window.end - window.from).as_secs_f64();
    let resources = resources_json(
        &options.server_pids,
        &start,
        &end,
        window.end - window.from,
        tally.ops(),
    );
    let extra = match &options.workload {
        Workload::Pipeline { depth, op } => json!({"depth": depth, "op": format!("{op:?}")}),
        Workload::Multi { ops } => json!({
            "ops_per_multi": ops,
            "sub_ops_per_sec": (tally.ops() as f64 * *ops as f64 / secs).round(),
        }),
        Workload::Mixed { read_ratio } => json!({"read_ratio": read_ratio}),
        Workload::Write { create_delete } => {
            json!({"mode": if *create_delete { "create-delete" } else { "set" }})
        }
        _ => json!({}),
    };
    Ok(report(options, secs, &tally, resources, extra))
}

#[allow(clippy::too_many_arguments)]
async fn closed(
    client: &Client,
    target: &Target,
    data: &Arc<Vec<u8>>,
    op: Op,
    multi: bool,
    window: Window,
    op_timeout: Duration,
    rng: &mut fastrand::Rng,
) -> Tally {
    let mut tally = Tally::new();
    loop {
        let issued = Instant::now();
        if issued >= window.end {
            return tally;
        }
        let step = if multi { Step::Multi } else { choose(op, rng) };
        let result = match timeout(op_timeout, issue(client, step, target, data)).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout.into()),
        };
        let done = Instant::now();
        let failed = result.is_err();
        if window.counts(issued, done) {
            match result {
                Ok(()) => tally.record(done - issued),
                Err(e) => tally.error_named(&error_kind(&e)),
            }
        }
        if failed {
            // Do not spin while the session is disconnected.
            sleep(Duration::from_millis(1)).await;
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn pipelined(
    client: &Client,
    target: &Target,
    data: &Arc<Vec<u8>>,
    depth: usize,
    op: Op,
    window: Window,
    op_timeout: Duration,
    rng: &mut fastrand::Rng,
) -> Tally {
    let mut tally = Tally::new();
    let mut in_flight = FuturesUnordered::new();
    loop {
        while in_flight.len() < depth && Instant::now() < window.end {
            let issued = Instant::now();
            let f = issue(client, choose(op, rng), target, data);
            in_flight.push(async move {
                let r = match timeout(op_timeout, f).await {
                    Ok(r) => r,
                    Err(_) => Err(Error::Timeout.into()),
                };
                (issued, Instant::now(), r)
            });
        }
        let Some((issued, done, result)) = in_flight.next().await else {
            return tally;
        };
        let failed = result.is_err();
        if window.counts(issued, done) {
            match result {
                Ok(()) => tally.record(done - issued),
                Err(e) => tally.error_named(&error_kind(&e)),
            }
        }
        if failed {
            sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Creates a PERSISTENT_SEQUENTIAL child of `dir` and deletes it; two operations per iteration.
async fn create_delete(client: &Client, dir: &str, data: &[u8], window: Window) -> Tally {
    let mut tally = Tally::new();
    if let Err(e) = ensure(client, dir, b"").await {
        tally.error_named(&error_kind(&e));
        return tally;
    }
    let prefix = format!("{dir}/n-");
    let options = CreateMode::PersistentSequential.with_acls(Acls::anyone_all());
    while Instant::now() < window.end {
        let issued = Instant::now();
        let created = client.create(&prefix, data, &options).await;
        let done = Instant::now();
        let path = match created {
            Ok((_, seq)) => {
                if window.counts(issued, done) {
                    tally.record(done - issued);
                }
                format!("{prefix}{seq}")
            }
            Err(e) => {
                if window.counts(issued, done) {
                    tally.error(e);
                }
                sleep(Duration::from_millis(1)).await;
                continue;
            }
        };
        let issued = Instant::now();
        let deleted = client.delete(&path, None).await;
        let done = Instant::now();
        if window.counts(issued, done) {
            match deleted {
                Ok(()) => tally.record(done - issued),
                Err(e) => tally.error(e),
            }
        }
    }
    tally
}

/// N sessions watch one znode; a writer changes it; the latency of a round is the time from just
/// before the write until the last watcher has its event. Watchers re-arm every round.
async fn watch(options: &Options, watchers: usize) -> Result<Value> {
    let writer = connect(options, 0).await?;
    let data = payload(options.size);
    ensure(&writer, &options.root, b"").await?;
    let node = format!("{}/watched", options.root);
    ensure(&writer, &node, &data).await?;
    let sessions = connect_all(options, watchers).await?;
    let (armed_tx, mut armed_rx) = mpsc::unbounded_channel::<()>();
    let (event_tx, mut event_rx) = mpsc::unbounded_channel::<(Instant, bool)>();
    let mut tasks = Vec::new();
    for client in sessions {
        let (armed_tx, event_tx, node) = (armed_tx.clone(), event_tx.clone(), node.clone());
        // Each watcher waits for its "go" before re-arming, so rounds do not overlap.
        let (go_tx, mut go_rx) = mpsc::unbounded_channel::<()>();
        tasks.push((
            go_tx,
            tokio::spawn(async move {
                while go_rx.recv().await.is_some() {
                    let watcher = match client.get_and_watch_data(&node).await {
                        Ok((_, _, w)) => w,
                        Err(_) => {
                            let _ = event_tx.send((Instant::now(), false));
                            continue;
                        }
                    };
                    let _ = armed_tx.send(());
                    let event = watcher.changed().await;
                    let ok = event.event_type == EventType::NodeDataChanged;
                    let _ = event_tx.send((Instant::now(), ok));
                }
            }),
        ));
    }
    let window = Window::new(options);
    let sampler = sample_window(options.server_pids.clone(), window);
    let mut rounds = Tally::new();
    let mut each = Tally::new();
    let mut events = 0u64;
    while Instant::now() < window.end {
        for (go, _) in &tasks {
            let _ = go.send(());
        }
        let mut failed_arms = 0;
        for _ in 0..watchers {
            let arm_or_fail = async {
                tokio::select! {
                    a = armed_rx.recv() => a.map(|()| false),
                    // A watcher that could not arm reports at once.
                    e = event_rx.recv() => e.map(|_| true),
                }
            };
            match timeout(options.session_timeout, arm_or_fail).await {
                Ok(Some(failed)) => failed_arms += usize::from(failed),
                _ => bail!("watchers stopped arming"),
            }
        }
        let issued = Instant::now();
        let measured = issued >= window.from;
        // Every armed watcher waits for this write: retry it until it succeeds.
        while let Err(e) = writer.set_data(&node, &data, None).await {
            if measured {
                rounds.error(e);
            }
            if issued.elapsed() > options.session_timeout {
                bail!("setData of the watched znode keeps failing");
            }
            sleep(Duration::from_millis(10)).await;
        }
        let mut last = issued;
        let mut arrivals = Vec::with_capacity(watchers);
        for _ in 0..watchers - failed_arms {
            let (at, ok) = match timeout(options.session_timeout, event_rx.recv()).await {
                Ok(Some(e)) => e,
                _ => bail!("watch events stopped arriving"),
            };
            arrivals.push((at, ok));
            last = last.max(at);
        }
        // A round counts when it started and ended inside the window.
        if !measured || last > window.end {
            continue;
        }
        rounds.record(last - issued);
        for (at, ok) in arrivals {
            if ok {
                each.record(at - issued);
                events += 1;
            } else {
                each.error("UnexpectedEvent");
            }
        }
        for _ in 0..failed_arms {
            each.error("ArmFailed");
        }
    }
    for (_, task) in &tasks {
        task.abort();
    }
    let (start, end) = sampler.await.context("sampler")?;
    let secs = (window.end - window.from).as_secs_f64();
    // Per operation = per event delivered.
    let resources = resources_json(
        &options.server_pids,
        &start,
        &end,
        window.end - window.from,
        events,
    );
    let mut tally = rounds;
    tally.errors.extend(each.errors.clone());
    let mut out = report(
        options,
        secs,
        &tally,
        resources,
        json!({
            "watchers": watchers,
            "rounds": tally.ops(),
            "events": events,
            "watcher_lat_us": latency_json(&each.latency),
        }),
    );
    // Throughput of a fan-out is events delivered per second.
    out["ops"] = json!(events);
    out["ops_per_sec"] = json!((events as f64 / secs).round());
    out["clients"] = json!(watchers);
    Ok(out)
}

/// The path of znode `i` of a populate run.
pub(crate) fn populate_path(i: u64, parents: u64) -> String {
    format!("/zk-loadgen-pop/p{}/n{i:010}", i % parents)
}

/// Creates `count` znodes as fast as the server takes them, sampling the server's RSS against the
/// number created, then reads the last one back.
async fn populate(options: &Options, count: u64, parents: u64, depth: usize) -> Result<Value> {
    let setup = connect(options, 0).await?;
    ensure(&setup, "/zk-loadgen-pop", b"").await?;
    for p in 0..parents {
        ensure(&setup, &format!("/zk-loadgen-pop/p{p}"), b"").await?;
    }
    let clients = connect_all(options, options.clients).await?;
    let data = Arc::new(payload(options.size));
    let next = Arc::new(AtomicU64::new(0));
    let created = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let pids = options.server_pids.clone();
    let curve = Arc::new(Mutex::new(Vec::<(u64, u64)>::new()));
    let sampler = {
        let (created, done, curve) = (created.clone(), done.clone(), curve.clone());
        let pid = pids.first().copied();
        tokio::spawn(async move {
            let Some(pid) = pid else { return };
            let mut step = count / 20;
            let mut next_mark = 0;
            while !done.load(Ordering::Relaxed) {
                let n = created.load(Ordering::Relaxed);
                if n >= next_mark {
                    if let Some(rss) = rss_kb(pid) {
                        curve.lock().expect("curve").push((n, rss));
                    }
                    step = step.max(1);
                    next_mark = n + step;
                }
                sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let start_sample = Sample::take(&pids);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in clients {
        let (data, next, created) = (data.clone(), next.clone(), created.clone());
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::new();
            let mut in_flight = FuturesUnordered::new();
            loop {
                while in_flight.len() < depth {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let path = populate_path(i, parents);
                    let (client, data) = (client.clone(), data.clone());
                    let issued = Instant::now();
                    in_flight.push(async move {
                        let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
                        let r = client.create(&path, &data, &options).await;
                        (issued, r)
                    });
                }
                let Some((issued, result)) = in_flight.next().await else {
                    return tally;
                };
                match result {
                    Ok(_) => {
                        tally.record(issued.elapsed());
                        created.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => tally.error(e),
                }
            }
        }));
    }
    let mut tally = Tally::new();
    for task in tasks {
        tally.merge(&task.await.context("populate task")?);
    }
    let wall = started.elapsed();
    let end_sample = Sample::take(&pids);
    done.store(true, Ordering::Relaxed);
    sampler.await.context("rss sampler")?;
    let mut curve = std::mem::take(&mut *curve.lock().expect("curve"));
    if let Some(rss) = pids.first().and_then(|&p| rss_kb(p)) {
        curve.push((created.load(Ordering::Relaxed), rss));
    }
    let last = populate_path(count.saturating_sub(1), parents);
    let readable = count == 0
        || setup
            .get_data(&last)
            .await
            .is_ok_and(|(d, _)| d.len() == options.size);
    let resources = resources_json(&pids, &start_sample, &end_sample, wall, tally.ops());
    Ok(report(
        options,
        wall.as_secs_f64(),
        &tally,
        resources,
        json!({
            "count": count,
            "parents": parents,
            "depth": depth,
            "last_path": last,
            "last_readable": readable,
            "rss_curve": curve,
        }),
    ))
}

/// Opens new sessions until `getData(path)` succeeds (with `expect_size` bytes). Attempts start
/// every 25 ms and each may take 500 ms, so a server that accepts but is still loading does not
/// hide the moment it starts serving.
async fn probe(
    options: &Options,
    path: &str,
    expect_size: Option<usize>,
    limit: Duration,
) -> Result<Value> {
    let started = Instant::now();
    let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
    let mut attempts = 0u64;
    let cluster = options.servers.join(",");
    loop {
        if let Ok(ok_epoch_ms) = rx.try_recv() {
            return Ok(json!({
                "workload": "probe",
                "ok": true,
                "ok_epoch_ms": ok_epoch_ms,
                "attempts": attempts,
                "elapsed_ms": started.elapsed().as_millis() as u64,
            }));
        }
        if started.elapsed() > limit {
            bail!("{path} not readable on {cluster} within {limit:?} ({attempts} attempts)");
        }
        attempts += 1;
        let (tx, cluster, path) = (tx.clone(), cluster.clone(), path.to_owned());
        tokio::spawn(async move {
            let attempt = async {
                let client = Client::connector()
                    .with_session_timeout(Duration::from_secs(10))
                    .with_fail_eagerly()
                    .connect(&cluster)
                    .await
                    .ok()?;
                let (data, _) = client.get_data(&path).await.ok()?;
                (expect_size.is_none_or(|s| s == data.len())).then(epoch_ms)
            };
            if let Ok(Some(at)) = timeout(Duration::from_millis(500), attempt).await {
                let _ = tx.send(at);
            }
        });
        sleep(Duration::from_millis(25)).await;
    }
}

/// Closed-loop load on an ensemble; kills `kill_pid` (the leader) `kill_after` into the measured
/// window and reports the time until the first write issued after the kill succeeded.
async fn failover(
    options: &Options,
    kill_pid: u32,
    kill_after: Duration,
    read_ratio: f64,
) -> Result<Value> {
    let setup = connect(options, 0).await?;
    let data = Arc::new(payload(options.size));
    ensure(&setup, &options.root, b"").await?;
    let targets: Vec<Target> = (0..options.clients)
        .map(|i| Target {
            node: format!("{}/c{i}", options.root),
            multi: Vec::new(),
        })
        .collect();
    for t in &targets {
        ensure(&setup, &t.node, &data).await?;
    }
    drop(setup);
    let clients = connect_all(options, options.clients).await?;
    let window = Window::new(options);
    let kill_at = window.from + kill_after;
    // Set when the kill has been delivered; zero until then.
    let killed = Arc::new(Mutex::new(None::<Instant>));
    let first_write = Arc::new(Mutex::new(None::<Instant>));
    let first_read = Arc::new(Mutex::new(None::<Instant>));
    let stop = Arc::new(AtomicBool::new(false));
    let op_timeout = options.session_timeout;
    let mut tasks = Vec::new();
    for (i, (client, target)) in clients.into_iter().zip(targets).enumerate() {
        let (data, killed, first_write, first_read, stop) = (
            data.clone(),
            killed.clone(),
            first_write.clone(),
            first_read.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(i as u64 + 1);
            let mut tally = Tally::new();
            let mut write_times = Vec::new();
            while Instant::now() < window.end && !stop.load(Ordering::Relaxed) {
                let step = choose(Op::Mixed(read_ratio), &mut rng);
                let issued = Instant::now();
                let result = match timeout(op_timeout, issue(&client, step, &target, &data)).await {
                    Ok(r) => r,
                    Err(_) => Err(Error::Timeout.into()),
                };
                let done = Instant::now();
                let kill = *killed.lock().expect("killed");
                match result {
                    Ok(()) => {
                        if window.counts(issued, done) {
                            tally.record(done - issued);
                        }
                        if step == Step::Set {
                            write_times.push(done);
                        }
                        if kill.is_some_and(|k| issued >= k) {
                            let first = if step == Step::Set {
                                &first_write
                            } else {
                                &first_read
                            };
                            let mut first = first.lock().expect("first");
                            if first.is_none_or(|f| done < f) {
                                *first = Some(done);
                            }
                        }
                    }
                    Err(e) => {
                        tally.error_named(&error_kind(&e));
                        sleep(Duration::from_millis(1)).await;
                    }
                }
            }
            (tally, write_times)
        }));
    }
    let sampler = sample_window(options.server_pids.clone(), window);
    sleep_until(kill_at.into()).await;
    let status = tokio::process::Command::new("kill")
        .args(["-KILL", &kill_pid.to_string()])
        .status()
        .await
        .context("running kill")?;
    if !status.success() {
        bail!("kill -KILL {kill_pid} failed");
    }
    let kill_time = Instant::now();
    *killed.lock().expect("killed") = Some(kill_time);
    // Watch for the first write after the kill; keep the load 3 s longer, then stop.
    while Instant::now() < window.end {
        let found = *first_write.lock().expect("first");
        if found.is_some_and(|f| f.elapsed() > Duration::from_secs(3)) {
            break;
        }
        sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut tally = Tally::new();
    let mut writes = Vec::new();
    for task in tasks {
        let (t, w) = task.await.context("failover task")?;
        tally.merge(&t);
        writes.extend(w);
    }
    sampler.abort();
    writes.sort();
    let longest_write_gap_ms = writes
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .map_or(0, |d| d.as_millis() as u64);
    let ms = |t: Option<Instant>| t.map(|t| (t - kill_time).as_secs_f64() * 1000.0);
    let failover_ms = ms(*first_write.lock().expect("first")).map(|m| m.round());
    let read_ms = ms(*first_read.lock().expect("first")).map(|m| m.round());
    let stopped = Instant::now().min(window.end);
    let observed_ms = (stopped - kill_time).as_millis() as u64;
    let secs = (stopped - window.from).as_secs_f64();
    Ok(report(
        options,
        secs,
        &tally,
        json!({}),
        json!({
            "killed_pid": kill_pid,
            "kill_after_s": kill_after.as_secs_f64(),
            "read_ratio": read_ratio,
            "failover_ms": failover_ms,
            "first_read_after_kill_ms": read_ms,
            "recovered": failover_ms.is_some(),
            "longest_write_gap_ms": longest_write_gap_ms,
            "observed_after_kill_ms": observed_ms,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn populate_paths_spread_over_parents() {
        assert_eq!(populate_path(0, 100), "/zk-loadgen-pop/p0/n0000000000");
        assert_eq!(
            populate_path(999_999, 100),
            "/zk-loadgen-pop/p99/n0000999999"
        );
    }

    #[test]
    fn the_window_counts_operations_issued_inside_it() {
        let from = Instant::now();
        let w = Window {
            from,
            end: from + Duration::from_secs(1),
        };
        assert!(w.counts(from, from + Duration::from_millis(10)));
        assert!(!w.counts(from - Duration::from_millis(1), from));
        assert!(!w.counts(from, from + Duration::from_secs(2)));
    }

    #[test]
    fn mixed_steps_follow_the_ratio() {
        let mut rng = fastrand::Rng::with_seed(7);
        let reads = (0..10_000)
            .filter(|_| choose(Op::Mixed(0.9), &mut rng) == Step::Get)
            .count();
        assert!((8_800..9_200).contains(&reads), "{reads}");
        assert_eq!(choose(Op::Write, &mut rng), Step::Set);
    }

    #[test]
    fn the_summary_names_the_main_numbers() {
        let line = summary(&json!({
            "workload": "read", "ops_per_sec": 1000.0, "errors": 0,
            "lat_us": {"count": 5, "p50": 10, "p99": 20, "p999": 30},
        }));
        assert_eq!(
            line,
            "read: ops/s 1000.0 errors 0 p50 10µs p99 20µs p999 30µs"
        );
    }
}
