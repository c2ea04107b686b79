//! What every bench shares: how much it measures (its mode) and how it times, so that a bench
//! run in CI's short mode goes through the same paths, with the same checks, as a full one.
// Each bench uses only some of these.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// How much a bench measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The figures the bench exists for: `cargo bench --bench NAME`.
    Full,
    /// Every measured path once or a few times, at small sizes, every result still checked:
    /// `cargo test --bench '*'` (what CI runs), or `BENCH_SHORT=1 cargo bench`. Its figures are
    /// printed but mean little.
    Short,
}

impl Mode {
    /// Full when `cargo bench` ran the bench (it passes `--bench`, as libtest's own benches
    /// expect) and `BENCH_SHORT` is unset or `0`; short otherwise, which is also what
    /// `cargo test --bench '*'` gets, as libtest runs a `#[bench]` once under `cargo test`.
    pub fn from_env() -> Self {
        let short = std::env::var("BENCH_SHORT").is_ok_and(|v| !v.is_empty() && v != "0");
        let mode = if !short && std::env::args().any(|a| a == "--bench") {
            Mode::Full
        } else {
            Mode::Short
        };
        if mode == Mode::Short {
            println!(
                "(short mode: every path once or a few times at small sizes, results checked; run `cargo bench --bench NAME` for figures)"
            );
        }
        mode
    }

    /// `full` in full mode, `short` in short mode.
    pub fn pick<T>(self, full: T, short: T) -> T {
        match self {
            Mode::Full => full,
            Mode::Short => short,
        }
    }
}

/// The median of `samples`; a bench that took no sample or measured no time measured nothing.
pub fn median(mut samples: Vec<Duration>) -> Duration {
    assert!(
        !samples.is_empty(),
        "no samples: the bench measured nothing"
    );
    samples.sort();
    let median = samples[samples.len() / 2];
    assert!(
        !median.is_zero(),
        "a median of zero: the bench measured nothing"
    );
    median
}

/// The median time of `runs` calls of `f`, each result kept from the optimiser.
pub fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(f());
                start.elapsed()
            })
            .collect(),
    )
}

/// `count` operations in `took`, per second.
pub fn per_second(count: usize, took: Duration) -> f64 {
    assert!(
        count > 0 && !took.is_zero(),
        "{count} operations in {took:?}: the bench measured nothing"
    );
    count as f64 / took.as_secs_f64()
}

/// The time of one of `count` operations that took `took` together.
pub fn each(count: usize, took: Duration) -> Duration {
    assert!(
        count > 0 && !took.is_zero(),
        "{count} operations in {took:?}: the bench measured nothing"
    );
    took / u32::try_from(count).expect("fewer than 2^32 operations")
}
