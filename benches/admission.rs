//! Admission decisions per second over the chapter's own cases: ch14's two policies rendered in
//! Enforce, and its eight test resources (five Pods by tag or digest, one outside the registry,
//! two Deployments), cycled.
//! - cached: artifacts in memory and Kyverno's verification cache warm, over the admitted
//!   resources, where every verification is a cache hit (target >= 50,000/s), and over all
//!   eight, where the failing ones are verified afresh every time, since Kyverno caches only
//!   successes;
//! - uncached: artifacts in memory, every signature and attestation verified afresh;
//! - from layout: each decision opens the fixture OCI layout, reads the image's cosign
//!   artifacts (every blob hash-checked) and verifies them, as a cold admission would.
//!
//! Run with `cargo bench --bench admission`. Figures are medians of 5 runs. Under
//! `cargo test --bench '*'` (CI) it runs short: each mix cycled twice, every verdict checked.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use common::{Mode, median, per_second};

use courselab::content::CourseFiles;
use courselab::content::chapter::Chapter;
use courselab::content::model::FailureMode;
use courselab::policy::evaluate::{
    Artifacts, VerifyCache, evaluate, evaluate_cached, images_to_fetch,
};
use courselab::policy::fetch::{ImageSource, fetch};
use courselab::policy::matching::{Operation, Request};
use courselab::suite::prepare::prepare;

fn create(object: &serde_json::Value) -> Request<'_> {
    Request {
        object,
        operation: Operation::Create,
        namespace_labels: None,
    }
}

/// Decisions per second: the median of `samples` runs of `run(decisions)`, each of which
/// returns how many of its decisions differed from the expected verdict (none may).
fn rate(samples: usize, decisions: usize, mut run: impl FnMut(usize) -> usize) -> f64 {
    let times = (0..samples)
        .map(|_| {
            let start = Instant::now();
            let wrong = run(decisions);
            let took = start.elapsed();
            assert_eq!(wrong, 0, "{wrong} of {decisions} decisions differ from the resource's verdict evaluated afresh");
            took
        })
        .collect();
    per_second(decisions, median(times))
}

fn main() {
    let mode = Mode::from_env();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let files = CourseFiles::from_disk(&root).expect("the course reads");
    let chapter = Chapter::find(files, "ch14").expect("ch14 exists");
    let values = chapter.values(true, &[]).expect("test values");
    let test = prepare(
        &chapter,
        "labs/ch14/tests/enforce/kyverno-test.yaml",
        &values,
        Some(FailureMode::Enforce),
    )
    .expect("the enforce test prepares");
    let objects: Vec<_> = test.resources.iter().map(|r| r.object.clone()).collect();
    let images: Vec<_> = objects
        .iter()
        .flat_map(|o| images_to_fetch(&create(o), &test.policies))
        .collect();
    let layouts = ImageSource::Layouts(root.join("labs/ch14/tests/images"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let artifacts: Artifacts = rt
        .block_on(fetch(&images, &layouts))
        .expect("fixtures read")
        .artifacts;

    // The verdict of each resource, fresh: what every cached and uncached decision must match.
    let verdicts: Vec<bool> = objects
        .iter()
        .map(|o| evaluate(o, Operation::Create, &test.policies, &artifacts).allowed)
        .collect();
    let admitted: Vec<_> = objects
        .iter()
        .zip(&verdicts)
        .filter(|(_, allowed)| **allowed)
        .map(|(o, _)| o.clone())
        .collect();
    assert!(
        !admitted.is_empty() && admitted.len() < objects.len(),
        "ch14's cases admit some resources and deny others; {} of {} admitted",
        admitted.len(),
        objects.len()
    );
    let samples = mode.pick(5, 1);
    // Short: each mix cycled twice, so the second cycle meets a warm cache.
    let cycles = |full: usize, len: usize| mode.pick(full, 2 * len);

    let mut cache = VerifyCache::default();
    let cached = rate(samples, cycles(200_000, objects.len()), |n| {
        (0..n)
            .filter(|i| {
                let request = create(&objects[i % objects.len()]);
                let result = evaluate_cached(&request, &test.policies, &artifacts, &mut cache);
                std::hint::black_box(result).allowed != verdicts[i % objects.len()]
            })
            .count()
    });
    // Kyverno caches only successful verifications, so the denied cases (a wrong key is a
    // real ECDSA verification that fails) cost the same every time; measure both mixes.
    let hits_before = cache.hits;
    let cached_admitted = rate(samples, cycles(200_000, admitted.len()), |n| {
        (0..n)
            .filter(|i| {
                let request = create(&admitted[i % admitted.len()]);
                let result = evaluate_cached(&request, &test.policies, &artifacts, &mut cache);
                !std::hint::black_box(result).allowed
            })
            .count()
    });
    assert!(
        cache.hits > hits_before,
        "the admitted resources never hit the verification cache"
    );
    let uncached = rate(samples, cycles(5_000, objects.len()), |n| {
        (0..n)
            .filter(|i| {
                let o = &objects[i % objects.len()];
                let result = evaluate(o, Operation::Create, &test.policies, &artifacts);
                std::hint::black_box(result).allowed != verdicts[i % objects.len()]
            })
            .count()
    });
    let from_layout = rate(samples, cycles(2_000, objects.len()), |n| {
        (0..n)
            .filter(|i| {
                let o = &objects[i % objects.len()];
                let wanted = images_to_fetch(&create(o), &test.policies);
                let fetched = rt
                    .block_on(fetch(&wanted, &layouts))
                    .expect("fixtures read")
                    .artifacts;
                let result = evaluate(o, Operation::Create, &test.policies, &fetched);
                std::hint::black_box(result).allowed != verdicts[i % objects.len()]
            })
            .count()
    });
    println!(
        "admission decisions over ch14's {} test resources (Enforce):",
        objects.len()
    );
    println!(
        "  cached verification, the {} admitted resources (every verification a cache hit): {cached_admitted:>10.0} decisions/s (target >= 50,000)",
        admitted.len()
    );
    println!(
        "  cache warm, all {} resources (failing verifications, never cached, cost a real ECDSA check each time): {cached:>10.0} decisions/s",
        objects.len()
    );
    println!("  uncached, in memory:   {uncached:>10.0} decisions/s");
    println!("  from the OCI layout:   {from_layout:>10.0} decisions/s");
    println!("  cache hits: {}", cache.hits);
}
