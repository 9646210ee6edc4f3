//! The wall-clock measurements: every path set up once in one process, then measured in
//! interleaved rounds (each round visits every lane, in a rotated order), so each ratio
//! compares numbers taken moments apart on the same noisy machine.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bus_core::Bus;
use bytes::Bytes;
use http::Uri;
use tokio::runtime::Runtime;

use crate::args::{Handler, Options, PathKind, size_label};
use crate::handler::{self, Bare, CHUNK, TINY_BODY};
use crate::machine;
use crate::paths::{BusClient, FramedClient, HyperClient, ORIGIN, Res, app_uri, serve};
use crate::report::{Goal, Limit, Measurement, Report, mib, sig};
use crate::stats;

/// The framed client's window when `one` runs it under callgrind (a tiny GET never uses it up).
const ONE_WINDOW: u32 = 1 << 20;

/// The largest memcpy destination; larger bodies wrap around it.
const COPY_BUFFER: usize = 64 << 20;

/// The body size of the memory run.
const MEMORY_RUN: u64 = 1 << 30;

/// A throughput lane: one of the three paths, or a plain copy they are compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lane {
    /// The body's chunks copied into a reused aligned buffer the size of the body (at most
    /// 64 MiB, then wrapping): the bytes land in memory, as a receiver keeping them would.
    Memcpy,
    /// The body's chunks copied into one reused aligned 64 KiB buffer that stays in cache:
    /// the fastest a copy of these bytes can be, and the copy the framed path's encoder makes.
    MemcpyChunk,
    Path(PathKind),
}

impl Lane {
    const ALL: [Lane; 5] = [
        Lane::Memcpy,
        Lane::MemcpyChunk,
        Lane::Path(PathKind::Bus),
        Lane::Path(PathKind::Framed),
        Lane::Path(PathKind::Hyper),
    ];

    fn name(self) -> &'static str {
        match self {
            Lane::Memcpy => "memcpy",
            Lane::MemcpyChunk => "memcpy64k",
            Lane::Path(p) => p.name(),
        }
    }
}

/// How long and how often to measure.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) rounds: usize,
    pub(crate) latency_samples: usize,
    pub(crate) min_batch: Duration,
    pub(crate) min_rps_batch: Duration,
    pub(crate) sizes: Vec<u64>,
    pub(crate) callers: Vec<usize>,
    /// The framed client's response window (it re-grants in quarter-window steps).
    pub(crate) window: u32,
}

impl Plan {
    pub(crate) fn new(options: &Options) -> Plan {
        let quick = options.quick;
        let default_sizes: &[u64] = if quick {
            &[1 << 10, 64 << 10, 1 << 20, 64 << 20]
        } else {
            &[1 << 10, 64 << 10, 1 << 20, 64 << 20, 1 << 30]
        };
        Plan {
            rounds: options.rounds.unwrap_or(if quick { 3 } else { 5 }),
            latency_samples: if quick { 3_000 } else { 10_000 },
            min_batch: Duration::from_millis(if quick { 60 } else { 250 }),
            min_rps_batch: Duration::from_millis(if quick { 100 } else { 300 }),
            sizes: options
                .sizes
                .clone()
                .unwrap_or_else(|| default_sizes.to_vec()),
            callers: vec![1, 64],
            window: options.window,
        }
    }

    pub(crate) fn describe(&self) -> Vec<(String, String)> {
        vec![
            (
                "rounds".into(),
                format!("{} per measurement, lanes interleaved, order rotated each round", self.rounds),
            ),
            (
                "latency".into(),
                format!(
                    "{} tiny GETs (body {:?}) per path and handler per round; handlers: a bare tower service, and an axum Router route; bus and hyper client+server on one current-thread runtime, framed from the main thread into a 2-worker runtime",
                    self.latency_samples, TINY_BODY
                ),
            ),
            (
                "throughput".into(),
                format!(
                    "batches of at least {} ms; an axum route streams 64 KiB slices of one 1 MiB source; clients count bytes without reading them; memcpy copies the same chunks into a reused 64-byte-aligned buffer of the body's size (at most {} MiB), memcpy64k into one reused 64 KiB buffer",
                    self.min_batch.as_millis(),
                    COPY_BUFFER >> 20
                ),
            ),
            (
                "framed".into(),
                format!(
                    "window {} KiB, credit re-granted every {} KiB consumed",
                    self.window >> 10,
                    self.window >> 12
                ),
            ),
            (
                "hyper".into(),
                "HTTP/1.1 keep-alive, TCP_NODELAY, server and client in this process (same axum Router as the bus); throughput and requests/s on a 2-worker runtime".into(),
            ),
            (
                "requests/s".into(),
                format!(
                    "axum tiny GETs in batches of at least {} ms; callers are tasks on a 2-worker runtime (hyper: one connection each; framed: streams in flight on one session)",
                    self.min_rps_batch.as_millis()
                ),
            ),
        ]
    }
}

/// A rig for `one`: the default window.
pub(crate) fn rig_for_one() -> Res<Rig> {
    Rig::new(ONE_WINDOW)
}

/// Every path, set up once: two runtimes, one bus, two hyper servers on loopback, a
/// framed session, and the memcpy buffer.
pub(crate) struct Rig {
    // Clients first: they drop before the bus and the runtimes they use.
    framed: FramedClient,
    hyper_local: HyperClient,
    hyper_pool: Vec<HyperClient>,
    hyper_multi_addr: SocketAddr,
    bus_client: BusClient,
    /// `bus.call` as a page's request (see [`PathKind::BusPage`]).
    bus_page_client: BusClient,
    bus: Bus,
    source: Bytes,
    copy_buffer: Vec<u8>,
    copy_start: usize,
    /// Bus and hyper latency; the bus's `call` runs in the caller's task.
    local: Runtime,
    /// The bus's runtime (sessions) and the concurrent callers.
    multi: Runtime,
}

impl std::fmt::Debug for Rig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rig")
            .field("bus", &self.bus)
            .finish_non_exhaustive()
    }
}

fn uri_for(path: PathKind, route: &str) -> Uri {
    match path {
        PathKind::Hyper => route.parse().expect("a valid path"),
        _ => app_uri(route),
    }
}

impl Rig {
    pub(crate) fn new(window: u32) -> Res<Rig> {
        let source = handler::source();
        let router = handler::router(source.clone());
        let local = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("starting a runtime: {e}"))?;
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bench-worker")
            .enable_all()
            .build()
            .map_err(|e| format!("starting a runtime: {e}"))?;
        let bus = Bus::builder()
            .app_origin(ORIGIN)
            .runtime(multi.handle().clone())
            .mount("/", router.clone())
            .mount(Handler::Service.route(), Bare)
            .build();
        let hyper_local = local.block_on(async {
            let addr = serve(router.clone()).await?;
            HyperClient::connect(addr).await
        })?;
        let hyper_multi_addr = multi.block_on(serve(router))?;
        let framed = FramedClient::open(&bus.handle(), window)?;
        Ok(Rig {
            framed,
            hyper_local,
            hyper_pool: Vec::new(),
            hyper_multi_addr,
            bus_client: BusClient::new(bus.handle()),
            bus_page_client: BusClient::as_page(bus.handle()),
            bus,
            source,
            copy_buffer: Vec::new(),
            copy_start: 0,
            local,
            multi,
        })
    }

    /// The `bus.call` client of `path` (a page's request, or Rust code's own).
    fn bus_client_for(&self, path: PathKind) -> &BusClient {
        if path == PathKind::BusPage {
            &self.bus_page_client
        } else {
            &self.bus_client
        }
    }

    /// `n` tiny GETs on `path` to `handler`, each timed; the samples in µs.
    pub(crate) fn latency(&mut self, path: PathKind, handler: Handler, n: usize) -> Res<Vec<f64>> {
        let mut samples = Vec::with_capacity(n);
        self.tiny_gets(path, handler, n, Some(&mut samples))?;
        Ok(samples)
    }

    /// `n` tiny GETs on `path` to `handler`, untimed (what `callgrind` counts).
    pub(crate) fn tiny_loop(&mut self, path: PathKind, handler: Handler, n: usize) -> Res<()> {
        self.tiny_gets(path, handler, n, None)
    }

    fn tiny_gets(
        &mut self,
        path: PathKind,
        handler: Handler,
        n: usize,
        mut samples: Option<&mut Vec<f64>>,
    ) -> Res<()> {
        let uri = uri_for(path, handler.route());
        let expect = TINY_BODY.len() as u64;
        let check = |got: u64| {
            if got == expect {
                Ok(())
            } else {
                Err(format!(
                    "{path}: tiny GET returned {got} bytes, not {expect}"
                ))
            }
        };
        let timed = samples.is_some();
        let start = || timed.then(Instant::now);
        let mut record = |t: Option<Instant>| {
            if let (Some(t), Some(samples)) = (t, samples.as_deref_mut()) {
                samples.push(t.elapsed().as_secs_f64() * 1e6);
            }
        };
        // The same loop on every path; only how one GET is made differs.
        macro_rules! each {
            ($get:expr) => {{
                for _ in 0..n {
                    let t = start();
                    let got = $get;
                    record(t);
                    check(got)?;
                }
                Ok::<_, String>(())
            }};
        }
        match path {
            PathKind::Bus | PathKind::BusPage => {
                let client = self.bus_client_for(path);
                self.local
                    .block_on(async { each!(client.get(&uri).await?) })
            }
            PathKind::Hyper => {
                let client = &mut self.hyper_local;
                self.local
                    .block_on(async { each!(client.get(&uri).await?) })
            }
            PathKind::Framed | PathKind::FramedBytes => {
                let uri = uri.to_string();
                self.framed.own_buffers = path == PathKind::FramedBytes;
                each!(self.framed.get(&uri)?)
            }
        }
    }

    /// `count` bodies of `size` bytes through `lane`; the time taken.
    pub(crate) fn transfer(&mut self, lane: Lane, size: u64, count: u64) -> Res<Duration> {
        let route = format!("/bytes/{size}");
        let t = Instant::now();
        let received = match lane {
            Lane::Memcpy => {
                for _ in 0..count {
                    self.copy(size, COPY_BUFFER);
                }
                size * count
            }
            Lane::MemcpyChunk => {
                for _ in 0..count {
                    self.copy(size, CHUNK);
                }
                size * count
            }
            Lane::Path(path @ (PathKind::Bus | PathKind::BusPage)) => {
                let uri = app_uri(&route);
                let client = self.bus_client_for(path);
                self.local.block_on(async {
                    let mut n = 0;
                    for _ in 0..count {
                        n += client.get(&uri).await?;
                    }
                    Ok::<_, String>(n)
                })?
            }
            Lane::Path(path @ (PathKind::Framed | PathKind::FramedBytes)) => {
                let uri = app_uri(&route).to_string();
                self.framed.own_buffers = path == PathKind::FramedBytes;
                let mut n = 0;
                for _ in 0..count {
                    n += self.framed.get(&uri)?;
                }
                n
            }
            Lane::Path(PathKind::Hyper) => {
                // Client in a task on the 2-worker runtime, server connection on the same
                // runtime: the configuration in which hyper moved bulk data fastest here.
                let mut client = self.pooled_hyper(1)?.pop().expect("one client");
                let uri: Uri = route.parse().map_err(|e| format!("{route}: {e}"))?;
                let (client, n) = self.multi.block_on(async move {
                    tokio::spawn(async move {
                        let mut n = 0;
                        for _ in 0..count {
                            n += client.get(&uri).await?;
                        }
                        Ok::<_, String>((client, n))
                    })
                    .await
                    .map_err(|e| format!("hyper: client task failed: {e}"))?
                })?;
                self.hyper_pool.push(client);
                n
            }
        };
        let elapsed = t.elapsed();
        if received != size * count {
            return Err(format!(
                "{}: received {received} bytes of {}",
                lane.name(),
                size * count
            ));
        }
        Ok(elapsed)
    }

    /// Copies one body's worth of the source's chunks into the first `cap` bytes of the
    /// reused buffer (wrapping around).
    fn copy(&mut self, size: u64, cap: usize) {
        if self.copy_buffer.is_empty() {
            // Allocated on first use and touched at once, so the copies never page-fault.
            self.copy_buffer = vec![1u8; COPY_BUFFER + 64];
            self.copy_start = self.copy_buffer.as_ptr().align_offset(64).min(64);
        }
        let region = (size as usize).min(cap);
        let start = self.copy_start;
        let dst = &mut self.copy_buffer[start..start + region];
        let mut left = size as usize;
        let mut at = 0;
        let mut i = 0;
        while left > 0 {
            let chunk = handler::chunk(&self.source, i);
            let n = left.min(CHUNK).min(region - at);
            dst[at..at + n].copy_from_slice(&chunk[..n]);
            std::hint::black_box(&mut dst[at]);
            left -= n;
            at += n;
            if at == region {
                at = 0;
            }
            i += 1;
        }
    }

    /// Takes `n` hyper clients connected to the 2-worker runtime's server (kept alive and
    /// reused across batches); callers give them back to `hyper_pool`.
    fn pooled_hyper(&mut self, n: usize) -> Res<Vec<HyperClient>> {
        let addr = self.hyper_multi_addr;
        while self.hyper_pool.len() < n {
            let client = self.multi.block_on(HyperClient::connect(addr))?;
            self.hyper_pool.push(client);
        }
        let at = self.hyper_pool.len() - n;
        Ok(self.hyper_pool.split_off(at))
    }

    /// `total` tiny GETs on `path` from `callers` concurrent callers; the time taken.
    pub(crate) fn rps(&mut self, path: PathKind, callers: usize, total: u64) -> Res<Duration> {
        let per = total.div_ceil(callers as u64);
        let uri = uri_for(path, Handler::Axum.route());
        match path {
            PathKind::Bus | PathKind::BusPage => {
                let client = self.bus_client_for(path).clone();
                self.multi.block_on(async move {
                    let t = Instant::now();
                    let tasks: Vec<_> = (0..callers)
                        .map(|_| {
                            let client = client.clone();
                            let uri = uri.clone();
                            tokio::spawn(async move {
                                for _ in 0..per {
                                    client.get(&uri).await?;
                                }
                                Ok::<_, String>(())
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await
                            .map_err(|e| format!("bus: caller task failed: {e}"))??;
                    }
                    Ok(t.elapsed())
                })
            }
            PathKind::Hyper => {
                let clients = self.pooled_hyper(callers)?;
                let (clients, elapsed) = self.multi.block_on(async move {
                    let t = Instant::now();
                    let tasks: Vec<_> = clients
                        .into_iter()
                        .map(|mut client| {
                            let uri = uri.clone();
                            tokio::spawn(async move {
                                for _ in 0..per {
                                    client.get(&uri).await?;
                                }
                                Ok::<_, String>(client)
                            })
                        })
                        .collect();
                    let mut back = Vec::with_capacity(callers);
                    for task in tasks {
                        back.push(
                            task.await
                                .map_err(|e| format!("hyper: caller task failed: {e}"))??,
                        );
                    }
                    Ok::<_, String>((back, t.elapsed()))
                })?;
                self.hyper_pool.extend(clients);
                Ok(elapsed)
            }
            PathKind::Framed | PathKind::FramedBytes => {
                self.framed.own_buffers = path == PathKind::FramedBytes;
                let t = Instant::now();
                self.framed
                    .run(&uri.to_string(), callers, per * callers as u64)?;
                Ok(t.elapsed())
            }
        }
    }
}

fn progress(line: &str) {
    eprintln!("{line}");
}

/// The items of `items`, rotated left by `round`.
pub(crate) fn rotated<T: Copy>(items: &[T], round: usize) -> Vec<T> {
    let mut v = items.to_vec();
    if !v.is_empty() {
        let k = round % v.len();
        v.rotate_left(k);
    }
    v
}

/// Finds a batch size (a multiple of `unit`) whose run takes at least `min`; the runs it
/// makes on the way are the warm-up.
fn calibrate(min: Duration, unit: u64, mut run: impl FnMut(u64) -> Res<Duration>) -> Res<u64> {
    let mut n = unit;
    loop {
        let took = run(n)?;
        if took >= min || n >= unit << 24 {
            return Ok(n);
        }
        let factor = (min.as_secs_f64() / took.as_secs_f64().max(1e-9) * 1.2).clamp(1.5, 100.0);
        n = ((n as f64 * factor / unit as f64).ceil() as u64).max(1) * unit;
    }
}

/// Runs every wall-clock measurement into `report`.
pub(crate) fn wall(plan: &Plan, report: &mut Report) -> Res<()> {
    progress("setup: runtimes, bus, hyper servers on 127.0.0.1, framed session");
    let mut rig = Rig::new(plan.window)?;

    progress("warm-up: tiny GETs and small bodies on every path");
    for path in PathKind::ALL {
        for handler in Handler::ALL {
            rig.latency(path, handler, 500)?;
        }
        for size in [CHUNK as u64, 1 << 20] {
            rig.transfer(Lane::Path(path), size, 8)?;
        }
    }
    rig.transfer(Lane::Memcpy, COPY_BUFFER as u64, 2)?;
    rig.transfer(Lane::MemcpyChunk, COPY_BUFFER as u64, 2)?;

    // Memory first (before the heap has grown for anything else), its table last.
    let before = report.measurements.len();
    memory(&mut rig, report)?;
    let rows = report.measurements.split_off(before);
    latency(&mut rig, plan, report)?;
    throughput(&mut rig, plan, report)?;
    requests_per_second(&mut rig, plan, report)?;
    report.measurements.extend(rows);
    Ok(())
}

/// The sections of the rust/callgrind/all tables.
pub(crate) const LATENCY: &str =
    "Tiny GET round trip (median over rounds of each round's percentile, min–max)";
pub(crate) const THROUGHPUT: &str =
    "Throughput, 10^9 bytes/s (median over rounds, min–max; 64 KiB chunks)";
pub(crate) const MEMORY: &str =
    "Streaming one 1 GiB body per path: peak RSS growth (VmHWM after clear_refs 5), time, rate";
pub(crate) const RPS: &str = "Tiny GETs per second, axum Router (median over rounds, min–max)";
pub(crate) const INSTRUCTIONS: &str =
    "Instructions per tiny GET (callgrind Ir, user space, all threads)";

fn memory(rig: &mut Rig, report: &mut Report) -> Res<()> {
    let m = |i: usize| {
        let (key, title, unit, lower) = [
            ("memory/growth", "peak RSS growth", "MiB", true),
            ("memory/seconds", "time", "s", true),
            ("memory/gb_per_s", "rate", "GB/s", false),
        ][i];
        Measurement::new(MEMORY, key, title, unit, lower)
    };
    let mut rows = [m(0), m(1), m(2)];
    for path in PathKind::ALL {
        let before = match machine::reset_peak() {
            Ok(before) => Some(before),
            Err(e) => {
                progress(&format!("memory: {e}; growth not measured"));
                None
            }
        };
        let took = rig.transfer(Lane::Path(path), MEMORY_RUN, 1)?;
        let growth = match before {
            Some(before) => Some(machine::peak()?.saturating_sub(before)),
            None => None,
        };
        let gbps = MEMORY_RUN as f64 / took.as_secs_f64() / 1e9;
        progress(&format!(
            "memory      {:<7} {} in {:.3} s ({} GB/s), peak RSS growth {}",
            path.name(),
            size_label(MEMORY_RUN),
            took.as_secs_f64(),
            sig(gbps),
            growth.map_or("n/a".into(), |g| format!(
                "{} MiB",
                sig(g as f64 / 1048576.0)
            ))
        ));
        let growth = growth.map(|g| mib(g as f64));
        rows[0].push(path.name(), growth.into_iter().collect());
        rows[1].push(path.name(), vec![took.as_secs_f64()]);
        rows[2].push(path.name(), vec![gbps]);
    }
    report.measurements.extend(rows);
    Ok(())
}

fn latency(rig: &mut Rig, plan: &Plan, report: &mut Report) -> Res<()> {
    let lanes: Vec<(PathKind, Handler)> = Handler::ALL
        .iter()
        .flat_map(|&h| PathKind::ALL.map(|p| (p, h)))
        .collect();
    let mut p50 = vec![Vec::new(); lanes.len()];
    let mut p99 = vec![Vec::new(); lanes.len()];
    for round in 0..plan.rounds {
        let mut line = format!(
            "latency     round {}/{} (p50/p99 us):",
            round + 1,
            plan.rounds
        );
        for lane in rotated(&lanes, round) {
            let i = lanes.iter().position(|&l| l == lane).expect("listed");
            let (path, handler) = lane;
            let mut samples = rig.latency(path, handler, plan.latency_samples)?;
            stats::sort(&mut samples);
            let a = stats::percentile(&samples, 50.0).unwrap_or(f64::NAN);
            let b = stats::percentile(&samples, 99.0).unwrap_or(f64::NAN);
            p50[i].push(a);
            p99[i].push(b);
            line += &format!("  {path}/{} {}/{}", handler.name(), sig(a), sig(b));
        }
        progress(&line);
    }
    for handler in Handler::ALL {
        for (p, rounds) in [("p50", &mut p50), ("p99", &mut p99)] {
            let mut row = Measurement::new(
                LATENCY,
                &format!("{p}/{}", handler.name()),
                &format!("{p}, {}", handler.words()),
                "µs",
                true,
            );
            for (i, (path, _)) in lanes.iter().enumerate().filter(|(_, l)| l.1 == handler) {
                row.push(path.name(), std::mem::take(&mut rounds[i]));
            }
            report.measurements.push(row);
        }
    }
    Ok(())
}

/// Calibrates a batch per lane (at least `min` long, in multiples of `unit`), then times
/// the batches in `plan.rounds` rounds, each visiting every lane in a rotated order: per
/// lane, each round's `rate(batch, time)`.
fn timed_rounds<L: Copy + PartialEq>(
    plan: &Plan,
    lanes: &[L],
    (min, unit): (Duration, u64),
    mut run: impl FnMut(L, u64) -> Res<Duration>,
    rate: impl Fn(u64, Duration) -> f64,
    (label, name, suffix): (&str, fn(L) -> &'static str, &str),
) -> Res<Vec<Vec<f64>>> {
    let mut counts = Vec::with_capacity(lanes.len());
    for &lane in lanes {
        counts.push(calibrate(min, unit, |n| run(lane, n))?);
    }
    let mut rates = vec![Vec::new(); lanes.len()];
    for round in 0..plan.rounds {
        let mut line = format!("{label} round {}/{}:", round + 1, plan.rounds);
        for lane in rotated(lanes, round) {
            let i = lanes.iter().position(|&l| l == lane).expect("listed");
            let r = rate(counts[i], run(lane, counts[i])?);
            rates[i].push(r);
            line += &format!("  {} {}", name(lane), sig(r));
        }
        progress(&(line + suffix));
    }
    Ok(rates)
}

fn throughput(rig: &mut Rig, plan: &Plan, report: &mut Report) -> Res<()> {
    let lanes = Lane::ALL;
    for &size in &plan.sizes {
        let rates = timed_rounds(
            plan,
            &lanes,
            (plan.min_batch, 1),
            |lane, n| rig.transfer(lane, size, n),
            |n, took| (size * n) as f64 / took.as_secs_f64() / 1e9,
            (
                &format!("throughput  {:<7}", size_label(size)),
                Lane::name,
                " GB/s",
            ),
        )?;
        let label = size_label(size);
        let mut row = Measurement::new(
            THROUGHPUT,
            &format!("throughput/{label}"),
            &label,
            "GB/s",
            false,
        );
        for (lane, rounds) in lanes.iter().zip(rates) {
            row.push(lane.name(), rounds);
        }
        report.measurements.push(row);
    }
    Ok(())
}

fn requests_per_second(rig: &mut Rig, plan: &Plan, report: &mut Report) -> Res<()> {
    let paths = PathKind::ALL;
    for &callers in &plan.callers {
        let s = if callers == 1 { "" } else { "s" };
        let rates = timed_rounds(
            plan,
            &paths,
            (plan.min_rps_batch, callers as u64 * 4),
            |path, n| rig.rps(path, callers, n),
            |n, took| n as f64 / took.as_secs_f64(),
            (
                &format!("requests/s  {callers:>2} caller{s:<1}"),
                PathKind::name,
                "",
            ),
        )?;
        let title = format!("{callers} caller{s}");
        let mut row = Measurement::new(RPS, &format!("rps/{callers}"), &title, "", false);
        for (path, rounds) in paths.iter().zip(rates) {
            row.push(path.name(), rounds);
        }
        report.measurements.push(row);
    }
    Ok(())
}

/// A ratio goal: its words, the measurement, [numerator, denominator] paths, how the
/// detail labels them, the unit, the limit, and why it is missing when it is.
type RatioSpec<'a> = (
    String,
    String,
    [&'a str; 2],
    &'a str,
    &'a str,
    Limit,
    &'a str,
);

/// The Rust-level goals (issues 3 and 16), checked against what `report` holds.
pub(crate) fn check_goals(report: &mut Report) {
    let r = &*report;
    let missing = |here: bool, mode: &str, what: &str| {
        if here {
            format!("no {what} data")
        } else {
            format!("not measured: run the {mode} mode")
        }
    };
    let wall = r.mode != "callgrind";
    let grind = r.mode != "rust";
    let no_latency = missing(wall, "rust", "latency");
    let no_grind = missing(grind, "callgrind", "callgrind");
    // (goal, measurement, [numerator, denominator] paths, label, unit, limit, why missing)
    let mut ratios: Vec<RatioSpec> = Vec::new();
    let per_handler = [
        (
            "tiny GET round trip (HANDLER): bus p50 at least 20x faster than hyper loopback",
            "p50",
            " p50",
            " µs",
            20.0,
            &no_latency,
        ),
        (
            "instructions per tiny GET (HANDLER): hyper/bus at least 4 (user space only)",
            "instructions",
            "",
            "",
            4.0,
            &no_grind,
        ),
    ];
    for (goal, measurement, label, unit, at_least, missing) in per_handler {
        for h in Handler::ALL {
            let key = format!("{measurement}/{}", h.name());
            let goal = goal.replace("HANDLER", h.words());
            ratios.push((
                goal,
                key,
                ["hyper", "bus"],
                label,
                unit,
                Limit::AtLeast(at_least),
                missing,
            ));
        }
    }
    ratios.push((
        "framed port tiny GET (bare tower service): at most 2x the instructions of bus.call".into(),
        "instructions/service".into(),
        ["framed", "bus"],
        "",
        "",
        Limit::AtMost(2.0),
        &no_grind,
    ));
    ratios.push((
        "framed port tiny GET (bare tower service): p50 at most 0.5x hyper loopback's".into(),
        "p50/service".into(),
        ["framed", "hyper"],
        " p50",
        " µs",
        Limit::AtMost(0.5),
        &no_latency,
    ));
    let mut goals: Vec<Goal> = ratios
        .into_iter()
        .map(|(goal, key, [a, b], label, unit, limit, missing)| {
            Goal::ratio(
                &goal,
                r.named(&key, a, label),
                r.named(&key, b, label),
                unit,
                limit,
                missing,
            )
        })
        .collect();
    let goal = "bus.call around a bare tower service: at most 4,000 instructions per tiny GET (the client's request and body read included)";
    goals.push(match r.value("instructions/service", "bus") {
        Some(n) => Goal::checked(
            goal,
            n,
            Limit::AtMost(4000.0),
            format!("{} instructions", sig(n)),
        ),
        None => Goal::not_measured(goal, &no_grind),
    });
    // The 1 GiB row, or in a --quick run the memory run's one 1 GiB stream per path.
    let gib = if r.measurement("throughput/1 GiB").is_some() {
        "throughput/1 GiB"
    } else {
        "memory/gb_per_s"
    };
    let no_throughput = missing(wall, "rust", "throughput");
    goals.push(Goal::ratio(
        "1 GiB through the bus: at least 5x hyper loopback throughput",
        r.named(gib, "bus", ""),
        r.named(gib, "hyper", ""),
        " GB/s",
        Limit::AtLeast(5.0),
        &no_throughput,
    ));
    let largest = r.measurements.iter().rfind(|m| m.section == THROUGHPUT);
    goals.push(Goal::ratio(
        "framed port: at least 0.5x memcpy throughput (largest size; memcpy into a body-sized buffer)",
        largest.and_then(|m| Some((format!("framed at {}", m.title), m.of("framed")?))),
        largest.and_then(|m| Some(("memcpy".into(), m.of("memcpy")?))),
        " GB/s",
        Limit::AtLeast(0.5),
        &no_throughput,
    ));
    let goal = "peak RSS growth streaming 1 GiB in process (bus.call): at most 32 MiB";
    goals.push(match r.value("memory/growth", "bus") {
        Some(g) => Goal::checked(goal, g, Limit::AtMost(32.0), format!("{} MiB", sig(g))),
        None if r.measurement("memory/seconds").is_some() => {
            Goal::not_measured(goal, "/proc/self/clear_refs is not usable here")
        }
        None => Goal::not_measured(goal, &missing(wall, "rust", "memory")),
    });
    report.goals = goals;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_visits_every_order_start() {
        assert_eq!(rotated(&[1, 2, 3], 0), [1, 2, 3]);
        assert_eq!(rotated(&[1, 2, 3], 1), [2, 3, 1]);
        assert_eq!(rotated(&[1, 2, 3], 5), [3, 1, 2]);
        assert!(rotated::<u8>(&[], 3).is_empty());
    }

    #[test]
    fn calibration_grows_in_units_until_long_enough() {
        let mut seen = Vec::new();
        let n = calibrate(Duration::from_millis(10), 4, |n| {
            seen.push(n);
            Ok(Duration::from_micros(n * 100))
        })
        .unwrap();
        assert!(n % 4 == 0 && n * 100 >= 10_000, "{n}");
        assert!(seen.iter().all(|s| s % 4 == 0));
    }

    /// A report with every section of an `all` run filled.
    fn sample() -> Report {
        let mut r = Report::new(crate::machine::Machine::default(), "all", false);
        let s = |v: f64| vec![v * 0.9, v, v * 1.1];
        for h in Handler::ALL {
            let extra = if h == Handler::Axum { 1.0 } else { 0.0 };
            for p in ["p50", "p99"] {
                let mut m = Measurement::new(LATENCY, &format!("{p}/{}", h.name()), p, "µs", true);
                for (path, v) in [("bus", 1.0), ("framed", 30.0), ("hyper", 25.0)] {
                    m.push(path, s(v + extra));
                }
                r.measurements.push(m);
            }
            let mut m = Measurement::new(
                INSTRUCTIONS,
                &format!("instructions/{}", h.name()),
                "",
                "",
                true,
            );
            for (path, n) in [("bus", 5_000.0), ("framed", 40_000.0), ("hyper", 30_000.0)] {
                m.push(path, vec![n + 5_000.0 * extra]);
            }
            r.measurements.push(m);
        }
        for size in ["1 KiB", "1 GiB"] {
            let mut m = Measurement::new(
                THROUGHPUT,
                &format!("throughput/{size}"),
                size,
                "GB/s",
                false,
            );
            for (lane, v) in [
                ("memcpy", 10.0),
                ("bus", 100.0),
                ("framed", 4.0),
                ("hyper", 3.0),
            ] {
                m.push(lane, s(v));
            }
            r.measurements.push(m);
        }
        let mut m = Measurement::new(MEMORY, "memory/growth", "", "MiB", true);
        m.push("bus", vec![0.25]);
        r.measurements.push(m);
        r
    }

    #[test]
    fn goals_are_checked_and_misses_named() {
        let mut r = sample();
        check_goals(&mut r);
        let status: Vec<_> = r.goals.iter().map(|g| g.status.label()).collect();
        // 25x, 13x (miss), 6x, 3.5x (miss), framed 8x bus's instructions (miss), framed
        // p50 1.2x hyper's (miss), bus 5,000 instructions (miss), 33x, 0.4x (miss), 0.25 MiB.
        assert_eq!(
            status,
            [
                "PASS", "MISS", "PASS", "MISS", "MISS", "MISS", "MISS", "PASS", "MISS", "PASS"
            ]
        );
        let table = r.table();
        assert!(table.contains("4 of 10 measured goals met."), "{table}");
        assert!(table.contains("8x: framed 40000 / bus 5000"), "{table}");
        assert!(
            table.contains("0.400x: framed at 1 GiB 4 GB/s / memcpy 10 GB/s"),
            "{table}"
        );
    }

    #[test]
    fn goals_without_data_say_which_mode_measures_them() {
        let mut r = Report::new(crate::machine::Machine::default(), "rust", false);
        check_goals(&mut r);
        assert!(
            r.goals
                .iter()
                .all(|g| g.status == crate::report::Status::NotMeasured)
        );
        assert!(r.goals[2].detail.contains("callgrind mode"));
        assert!(
            r.table()
                .contains("0 of 0 measured goals met; 10 not measured")
        );
    }

    #[test]
    fn quick_plans_have_no_gib_size() {
        let quick = Plan::new(&Options {
            quick: true,
            ..Options::default()
        });
        assert_eq!(quick.rounds, 3);
        assert!(!quick.sizes.contains(&(1 << 30)));
        let full = Plan::new(&Options::default());
        assert_eq!(full.rounds, 5);
        assert!(full.sizes.contains(&(1 << 30)));
    }
}
