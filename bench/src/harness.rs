//! Settings from the environment, the alternating runner and statistics.
//!
//! Absolute times on a shared machine drift from one second to the next;
//! ratios between implementations measured in the same run are what the
//! suite reports. [`alternate`] therefore runs every contender once per
//! round, in a rotating order, on identical work, and keeps the median of
//! the rounds.

use std::time::{Duration, Instant};

/// The knobs of a run, read from environment variables.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `WSCORE_BENCH_SMOKE=1` | one short round of everything, tiny sizes | off |
/// | `WSCORE_BENCH_ROUNDS` | rounds per in-memory comparison | 15 (smoke 1) |
/// | `WSCORE_BENCH_SAMPLE_BYTES` | payload bytes per in-memory sample | 4 MiB (smoke 64 KiB) |
/// | `WSCORE_BENCH_ECHO_CONNS` | comma-separated connection counts | `1,64,512` (smoke `1,8`) |
/// | `WSCORE_BENCH_ECHO_SECS` | measured seconds per echo cell | 0.4 (smoke 0.05) |
/// | `WSCORE_BENCH_ECHO_ROUNDS` | rounds per echo cell | 3 (smoke 1) |
/// | `WSCORE_BENCH_IDLE_CONNS` | idle connections per server | 10000 (smoke 100) |
/// | `WSCORE_BENCH_BIG_MESSAGE` | bytes of the large-message test | 256 MiB (smoke 4 MiB) |
/// | `WSCORE_BENCH_BATCH_MESSAGES` | messages in the batching test | 1000000 (smoke 20000) |
/// | `WSCORE_BENCH_BURSTS` | comma-separated burst sizes of the batching test | `1,16,256,4096` (smoke `1,256`) |
#[derive(Clone, Debug)]
pub struct Settings {
    /// Every row runs one short iteration.
    pub smoke: bool,
    /// Rounds of [`alternate`] for in-memory rows.
    pub rounds: usize,
    /// Payload bytes processed per in-memory sample (at least one frame).
    pub sample_bytes: usize,
    /// Connection counts for the echo row.
    pub echo_conns: Vec<usize>,
    /// Measured time per echo cell and server.
    pub echo_duration: Duration,
    /// Unmeasured time before each echo cell.
    pub echo_warmup: Duration,
    /// Rounds per echo cell.
    pub echo_rounds: usize,
    /// Idle connections opened per server in the memory row.
    pub idle_conns: usize,
    /// Size of the large message in the memory row.
    pub big_message: usize,
    /// Messages sent in the batching row.
    pub batch_messages: usize,
    /// Burst sizes of the batching row.
    pub bursts: Vec<usize>,
}

/// `full` normally, `quick` in a smoke run.
fn pick<T>(smoke: bool, full: T, quick: T) -> T {
    if smoke {
        quick
    } else {
        full
    }
}

fn var<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok()?.trim().parse().ok()
}

/// A comma-separated list of positive numbers, if the variable holds one.
fn list(name: &str) -> Option<Vec<usize>> {
    let values: Vec<usize> = std::env::var(name)
        .ok()?
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .filter(|&n| n > 0)
        .collect();
    (!values.is_empty()).then_some(values)
}

impl Settings {
    /// Reads the settings from the environment.
    pub fn from_env() -> Settings {
        let smoke = std::env::var("WSCORE_BENCH_SMOKE").is_ok_and(|v| v != "0" && !v.is_empty());
        let echo_conns = list("WSCORE_BENCH_ECHO_CONNS")
            .unwrap_or_else(|| pick(smoke, vec![1, 64, 512], vec![1, 8]));
        let bursts = list("WSCORE_BENCH_BURSTS")
            .unwrap_or_else(|| pick(smoke, vec![1, 16, 256, 4096], vec![1, 256]));
        let echo_secs: f64 = var("WSCORE_BENCH_ECHO_SECS").unwrap_or(pick(smoke, 0.4, 0.05));
        Settings {
            smoke,
            rounds: var("WSCORE_BENCH_ROUNDS")
                .unwrap_or(pick(smoke, 15, 1))
                .max(1),
            sample_bytes: var("WSCORE_BENCH_SAMPLE_BYTES").unwrap_or(pick(
                smoke,
                4 << 20,
                64 << 10,
            )),
            echo_conns,
            echo_duration: Duration::from_secs_f64(echo_secs.max(0.001)),
            echo_warmup: Duration::from_secs_f64((echo_secs / 4.0).clamp(0.001, 0.25)),
            echo_rounds: var("WSCORE_BENCH_ECHO_ROUNDS")
                .unwrap_or(pick(smoke, 3, 1))
                .max(1),
            idle_conns: var("WSCORE_BENCH_IDLE_CONNS").unwrap_or(pick(smoke, 10_000, 100)),
            big_message: var("WSCORE_BENCH_BIG_MESSAGE").unwrap_or(pick(smoke, 256 << 20, 4 << 20)),
            batch_messages: var("WSCORE_BENCH_BATCH_MESSAGES")
                .unwrap_or(pick(smoke, 1_000_000, 20_000)),
            bursts,
        }
    }

    /// The frame payload sizes of the in-memory rows.
    pub fn frame_sizes(&self) -> Vec<usize> {
        if self.smoke {
            vec![16, 1 << 10, 64 << 10]
        } else {
            vec![16, 1 << 10, 64 << 10, 1 << 20, 16 << 20]
        }
    }

    /// How many frames of `size` bytes make one in-memory sample.
    pub fn frames_per_sample(&self, size: usize) -> usize {
        (self.sample_bytes / size.max(1)).max(1)
    }
}

/// One implementation's run of a sample: does the work and returns the
/// time it took (setup that is not part of the comparison may be left out).
pub type Sample<'a> = Box<dyn FnMut() -> Duration + 'a>;

/// Runs every contender once untimed (to warm caches and allocators), then
/// `rounds` times each, rotating which goes first, and returns each one's
/// median time in the order given.
pub fn alternate(rounds: usize, contenders: &mut [Sample<'_>]) -> Vec<Duration> {
    let n = contenders.len();
    for run in contenders.iter_mut() {
        run();
    }
    let mut times = vec![Vec::with_capacity(rounds); n];
    for round in 0..rounds {
        for k in 0..n {
            let i = (round + k) % n;
            if let (Some(run), Some(slot)) = (contenders.get_mut(i), times.get_mut(i)) {
                slot.push(run());
            }
        }
    }
    times.into_iter().map(|t| median(&t)).collect()
}

/// Times `f`.
pub fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// The median of `values` (the lower middle for an even count); zero for
/// none.
pub fn median<T: Copy + Ord + Default>(values: &[T]) -> T {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted
        .get(sorted.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or_default()
}

/// The median of floating-point `values`; zero for none.
pub fn median_f64(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    sorted
        .get(sorted.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or_default()
}

/// The `q` quantile (0.0..=1.0) of sorted `values`; zero for none.
pub fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted.get(rank).copied().unwrap_or_default()
}
