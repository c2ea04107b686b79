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
//! Run with `cargo bench --bench admission`. Figures are medians of 5 runs.

use std::path::PathBuf;
use std::time::{Duration, Instant};

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

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn rate(decisions: usize, mut run: impl FnMut(usize)) -> f64 {
    let samples = (0..5)
        .map(|_| {
            let start = Instant::now();
            run(decisions);
            start.elapsed()
        })
        .collect();
    decisions as f64 / median(samples).as_secs_f64()
}

fn main() {
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

    let mut cache = VerifyCache::default();
    let cached = rate(200_000, |n| {
        for i in 0..n {
            let request = Request {
                object: &objects[i % objects.len()],
                operation: Operation::Create,
                namespace_labels: None,
            };
            std::hint::black_box(evaluate_cached(
                &request,
                &test.policies,
                &artifacts,
                &mut cache,
            ));
        }
    });
    // Kyverno caches only successful verifications, so the denied cases (a wrong key is a
    // real ECDSA verification that fails) cost the same every time; measure both mixes.
    let admitted: Vec<_> = objects
        .iter()
        .filter(|o| evaluate(o, Operation::Create, &test.policies, &artifacts).allowed)
        .cloned()
        .collect();
    let cached_admitted = rate(200_000, |n| {
        for i in 0..n {
            let request = Request {
                object: &admitted[i % admitted.len()],
                operation: Operation::Create,
                namespace_labels: None,
            };
            std::hint::black_box(evaluate_cached(
                &request,
                &test.policies,
                &artifacts,
                &mut cache,
            ));
        }
    });
    let uncached = rate(5_000, |n| {
        for i in 0..n {
            let o = &objects[i % objects.len()];
            std::hint::black_box(evaluate(o, Operation::Create, &test.policies, &artifacts));
        }
    });
    let from_layout = rate(2_000, |n| {
        for i in 0..n {
            let o = &objects[i % objects.len()];
            let wanted = images_to_fetch(&create(o), &test.policies);
            let fetched = rt
                .block_on(fetch(&wanted, &layouts))
                .expect("fixtures read")
                .artifacts;
            std::hint::black_box(evaluate(o, Operation::Create, &test.policies, &fetched));
        }
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
