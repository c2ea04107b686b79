//! `lab grade` of a whole class: 10,000 ch14 bundles of the real shape (each learner's own
//! key signs and attests the CI build and seals the file; `tests/support/ch14_class.rs`), graded
//! by the real binary into a JSON report. Measured, in the same run:
//! - submissions graded per second, process start to exit;
//! - the machine's bound for the same work: every file read, inflated and un-tarred
//!   (`submission::archive::read`), every file hashed (SHA-256), the seal verified
//!   (`submission::sealed::open`) and the image's signature and SBOM attestation verified from
//!   the file's layout with the learner's key (`supply`), on as many threads as `lab grade`
//!   uses (target: at least 50% of it);
//! - the peak memory of `lab grade` (its maximum resident set, from `wait4`; target: at most
//!   200 MB for 10,000).
//!
//! Each is measured three times, in turn, and its best round reported (the highest peak
//! memory). Run with `cargo bench --bench grade` (`BENCH_GRADE_N` sets the class size;
//! `BENCH_GRADE_KEEP=DIR` keeps the generated class in `DIR`, a new folder). Under `cargo
//! test --bench '*'` (CI) it runs short: a class of a few dozen, every verdict still checked.

mod common;

#[path = "../tests/support/ch14_class.rs"]
mod ch14_class;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ch14_class::{Ch14, LearnerKey, Work, repo};
use common::{Mode, per_second};
use courselab::submission::archive::{Limits, read};
use courselab::submission::names::PUBLIC_KEY_FILE;
use courselab::submission::sealed::{TrustedKey, open};
use courselab::submission::statement::{SEAL_FILE, Statement};
use courselab::supply::ImageRef;
use courselab::supply::attestation::fetch_attestations;
use courselab::supply::cosign::fetch_artifacts;
use courselab::supply::layout::LayoutStore;
use courselab::supply::signature::{Verifier, verify_signatures};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;

/// The grading threads: `lab grade`'s default, the machine's cores.
fn jobs() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// `f(i)` for `i` in `0..n`, on `jobs` threads.
fn each_on_threads(n: usize, jobs: usize, f: impl Fn(usize) + Sync) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    f(i);
                }
            });
        }
    });
}

/// `n` learners' finished ch14, each with its own key, written into `class`.
fn generate(class: &Path, n: usize) -> Vec<PathBuf> {
    let ch14 = Ch14::load();
    let files: Vec<PathBuf> = (0..n)
        .map(|i| class.join(format!("learner-{i:05}.tar.gz")))
        .collect();
    each_on_threads(n, jobs(), |i| {
        let work = Work::finished(&format!("learner-{i:05}"));
        std::fs::write(&files[i], ch14.bundle(&LearnerKey::generate(), &work)).unwrap();
    });
    files
}

/// The bound: what grading cannot do without, with the same primitives on `jobs` threads.
fn bound(files: &[PathBuf], jobs: usize) -> Duration {
    let start = Instant::now();
    each_on_threads(files.len(), jobs, |i| {
        let bytes = std::fs::read(&files[i]).unwrap();
        let archive = read(bytes.as_slice(), Limits::default()).unwrap();
        for data in archive.values() {
            std::hint::black_box(Sha256::digest(data));
        }
        let key = TrustedKey::from_pem(&archive[PUBLIC_KEY_FILE]).unwrap();
        let statement = Statement::parse(&open(&archive[SEAL_FILE], &key).unwrap()).unwrap();
        // The image's signature and SBOM attestation, verified from the file's layout with
        // the learner's key: the rest of the cryptography grading cannot do without.
        let image = statement.predicate.image.as_ref().unwrap();
        let store = LayoutStore::in_memory(Arc::new(archive.clone()), &image.layout).unwrap();
        let reference = ImageRef::parse(&format!("{}@{}", image.repository, image.digest)).unwrap();
        let artifacts = courselab::runtime::block_on(fetch_artifacts(&store, &reference))
            .unwrap()
            .unwrap();
        let verifier = Verifier::from_public_key_pem(&archive[PUBLIC_KEY_FILE]).unwrap();
        std::hint::black_box(verify_signatures(&artifacts, &verifier).unwrap());
        std::hint::black_box(fetch_attestations(&artifacts, &verifier).unwrap());
    });
    start.elapsed()
}

/// Runs `lab grade` on `class`; returns its wall time and its peak resident memory in bytes.
///
/// Measured by this bench's own binary started afresh ([`MEASURE`]), which starts `lab`: Linux
/// gives a process started from another the peak resident set of the one that started it
/// (the memory both share until `exec`), and this process has grown to hundreds of MB by the
/// second round, so a `wait4` here would report this process's peak rather than `lab`'s.
fn lab_grade(class: &Path, report: &Path) -> (Duration, u64) {
    let output = Command::new(std::env::current_exe().expect("the bench's own path"))
        .env(MEASURE, "1")
        .env_remove("LAB_COURSE")
        .arg(env!("CARGO_BIN_EXE_lab"))
        .args(["--color=never", "--course"])
        .arg(repo())
        .arg("grade")
        .arg(class)
        .args(["--format", "json", "-o"])
        .arg(report)
        .stderr(Stdio::inherit())
        .output()
        .expect("the measuring process runs");
    assert!(output.status.success(), "lab grade failed: {output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let (nanos, bytes) = text.trim().split_once(' ').expect("`NANOS BYTES`");
    (
        Duration::from_nanos(nanos.parse().unwrap()),
        bytes.parse().unwrap(),
    )
}

/// Set in the environment of this binary started to measure one command: it runs its
/// arguments as the command and prints the wall time in nanoseconds and the command's peak
/// resident set in bytes (the command's alone: this process is a few MB when it starts it).
const MEASURE: &str = "BENCH_GRADE_MEASURE";

/// What this binary does when started with [`MEASURE`].
fn measure() {
    let mut args = std::env::args_os().skip(1);
    let program = args.next().expect("a command to measure");
    let start = Instant::now();
    // Reaped by `wait4` below, which `Child::wait` cannot stand in for: it drops the usage.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(program)
        .args(args)
        .env_remove(MEASURE)
        .stdout(Stdio::null())
        .spawn()
        .expect("the command runs");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value, and wait4 is given valid pointers to it
    // and to the status, for a child of this process that nothing else waits for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let took = start.elapsed();
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the command failed: status {status}"
    );
    // Linux counts ru_maxrss in KiB.
    let peak = u64::try_from(usage.ru_maxrss).unwrap() * 1024;
    println!("{} {peak}", took.as_nanos());
}

/// Every learner graded in full, none flagged: the class is what it should be.
fn check(report: &Path, n: usize) {
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    let submissions = doc["submissions"].as_array().unwrap();
    assert_eq!(submissions.len(), n);
    for s in submissions {
        assert!(
            s["outcome"] == "graded" && s["earned"] == 120 && s["points"] == 120,
            "{s:#}"
        );
    }
}

fn main() {
    if std::env::var_os(MEASURE).is_some() {
        measure();
        return;
    }
    let mode = Mode::from_env();
    let n = std::env::var("BENCH_GRADE_N")
        .ok()
        .map(|n| n.parse().expect("BENCH_GRADE_N is a number"))
        .unwrap_or(mode.pick(10_000, 24));
    let dir = tempfile::tempdir().unwrap();
    // `BENCH_GRADE_KEEP=DIR` writes the class there and keeps it (to profile `lab grade` on it).
    let class = match std::env::var_os("BENCH_GRADE_KEEP") {
        Some(keep) => PathBuf::from(keep),
        None => dir.path().join("class"),
    };
    std::fs::create_dir(&class).unwrap();
    let start = Instant::now();
    let files = generate(&class, n);
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    println!(
        "generated {n} ch14 bundles ({:.1} MB) in {:.1} s",
        bytes as f64 / 1e6,
        start.elapsed().as_secs_f64()
    );

    // The bound, then the grade, in turn, each at its best of a few rounds (on a shared
    // machine one round of either can be slowed by a neighbour); both find the files in the
    // page cache.
    let jobs = jobs();
    let report = dir.path().join("grades.json");
    let (mut fastest_bound, mut fastest_grade, mut peak) = (Duration::MAX, Duration::MAX, 0);
    for _ in 0..mode.pick(3, 1) {
        fastest_bound = fastest_bound.min(bound(&files, jobs));
        let (took, max_rss) = lab_grade(&class, &report);
        check(&report, n);
        fastest_grade = fastest_grade.min(took);
        peak = peak.max(max_rss);
    }
    let bound = per_second(n, fastest_bound);
    let graded = per_second(n, fastest_grade);
    println!(
        "bound (read, inflate, SHA-256 every file, verify the seal, the signature and the attestation), {jobs} threads: {bound:>8.0} submissions/s"
    );
    println!(
        "lab grade {n} submissions --format json, process start to exit:        {graded:>8.0} submissions/s  ({:.0}% of the bound; target >= 50%)",
        100.0 * graded / bound
    );
    println!(
        "lab grade peak memory (max RSS):                                          {:>8.1} MB  (target <= 200 MB for 10,000)",
        peak as f64 / 1e6
    );
}
