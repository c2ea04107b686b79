//! Running a step's solution: bash with `set -euo pipefail`, in the working folder, in a
//! process group of its own, with a deadline; its output captured (for the rehearsal's
//! report) or passed through (for a learner's `lab solve --run`).
//!
//! The group is the solution: the deadline, an interrupt of `lab` (Ctrl-C, SIGTERM, SIGHUP)
//! and bash's own end all end the whole group, so nothing it started in the background keeps
//! running or holds the output open. A process that left the group (`setsid`) is found by a
//! marker in its environment and named, not killed: `lab` cannot be sure it is still the
//! solution's.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::signal::unix::{Signal, SignalKind, signal};

/// The environment variable whose value marks every process of one run.
const MARKER: &str = "LAB_SOLUTION_RUN";

/// How much of each output stream is kept.
const KEPT: usize = 1024 * 1024;

/// How long an interrupted solution has to end after SIGTERM, and how long its output may
/// take to close once its group has ended.
const GRACE: Duration = Duration::from_secs(2);

/// How often the runner looks at the solution while it waits for a signal.
const TICK: Duration = Duration::from_millis(50);

/// A process, named for the person who may have to end it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Its id.
    pub pid: u32,
    /// Its command line.
    pub command: String,
}

/// How a solution ended.
#[derive(Debug, Clone)]
pub struct Ran {
    /// Exit code; `None` when killed (a signal or the deadline).
    pub code: Option<i32>,
    /// Whether the deadline killed it.
    pub timed_out: bool,
    /// Whether an interrupt of `lab` ended it.
    pub interrupted: bool,
    /// Standard output and error, interleaved per stream (empty when passed through).
    pub output: String,
    /// How long it ran.
    pub elapsed: Duration,
    /// What bash left running in its group when it ended; ended with it.
    pub ended: Vec<Process>,
    /// What left the group (`setsid`) and still runs.
    pub escaped: Vec<Process>,
}

impl Ran {
    /// Whether it succeeded.
    pub fn ok(&self) -> bool {
        self.code == Some(0) && !self.interrupted
    }
}

/// Ctrl-C, SIGTERM and SIGHUP, caught from [`Interrupts::listen`] on, so that `lab` ends a
/// solution's group and removes what it wrote for it (a kubeconfig) before it exits. Listen
/// before writing such a file: from then on an interrupt no longer ends `lab` at once.
pub struct Interrupts {
    runtime: tokio::runtime::Runtime,
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl Interrupts {
    /// Starts catching the signals.
    pub fn listen() -> std::io::Result<Interrupts> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let _entered = runtime.enter();
        Ok(Interrupts {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
            runtime,
        })
    }

    /// Waits up to `period`; whether a signal arrived (since listening, or the last one seen).
    fn arrived(&mut self, period: Duration) -> bool {
        let Interrupts {
            runtime,
            interrupt,
            terminate,
            hangup,
        } = self;
        runtime.block_on(async {
            tokio::select! {
                biased;
                _ = interrupt.recv() => true,
                _ = terminate.recv() => true,
                _ = hangup.recv() => true,
                _ = tokio::time::sleep(period) => false,
            }
        })
    }
}

/// Runs `script` with bash in `dir` with `env` added; `capture` collects the output (at most
/// 1 MiB of each stream), otherwise it goes to this process's own. Interrupts are caught only
/// while it runs; see [`run_solution`] to catch them earlier.
pub fn run_script(
    script: &str,
    dir: &Path,
    env: &[(String, String)],
    timeout: Duration,
    capture: bool,
) -> std::io::Result<Ran> {
    let mut interrupts = Interrupts::listen()?;
    run_solution(script, dir, env, timeout, capture, &mut interrupts)
}

/// As [`run_script`], with interrupts caught by `interrupts`.
pub fn run_solution(
    script: &str,
    dir: &Path,
    env: &[(String, String)],
    timeout: Duration,
    capture: bool,
    interrupts: &mut Interrupts,
) -> std::io::Result<Ran> {
    let started = Instant::now();
    let marker = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
    );
    let mut ran = Ran {
        code: None,
        timed_out: false,
        interrupted: false,
        output: String::new(),
        elapsed: Duration::ZERO,
        ended: Vec::new(),
        escaped: Vec::new(),
    };
    if interrupts.arrived(Duration::ZERO) {
        ran.interrupted = true;
        return Ok(ran);
    }
    let mut command = Command::new("bash");
    command
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env(MARKER, &marker)
        .stdin(Stdio::null())
        .process_group(0);
    if capture {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let mut child = command.spawn()?;
    let group = child.id();
    let output = Output::read(&mut child);
    let status = wait(&mut child, started + timeout, interrupts, &mut ran)?;
    // Bash has ended: what is left of its group is the solution's too, and ends with it.
    ran.ended = members(group);
    if !ran.ended.is_empty() {
        signal_group(group, "KILL");
    }
    ran.output = output.collect(Instant::now() + GRACE);
    ran.escaped = escaped(&marker, group);
    ran.code = status.code();
    ran.elapsed = started.elapsed();
    Ok(ran)
}

/// Waits for bash, ending its group at the deadline or on an interrupt.
fn wait(
    child: &mut Child,
    deadline: Instant,
    interrupts: &mut Interrupts,
    ran: &mut Ran,
) -> std::io::Result<ExitStatus> {
    let group = child.id();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        let now = Instant::now();
        if now >= deadline {
            ran.timed_out = true;
            signal_group(group, "KILL");
            return child.wait();
        }
        if interrupts.arrived(TICK.min(deadline - now)) {
            ran.interrupted = true;
            signal_group(group, "TERM");
            let grace = Instant::now() + GRACE;
            // A second interrupt, or the grace running out, ends it at once.
            while child.try_wait()?.is_none() && Instant::now() < grace && !interrupts.arrived(TICK)
            {
            }
            signal_group(group, "KILL");
            return child.wait();
        }
    }
}

/// The captured streams, read by one thread each so that neither fills its pipe.
struct Output {
    streams: Vec<Arc<Mutex<Vec<u8>>>>,
    done: mpsc::Receiver<()>,
    readers: usize,
}

impl Output {
    fn read(child: &mut Child) -> Output {
        let (tx, done) = mpsc::channel();
        let pipes: Vec<Box<dyn Read + Send>> = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        .collect();
        let readers = pipes.len();
        let streams = pipes
            .into_iter()
            .map(|mut pipe| {
                let kept = Arc::new(Mutex::new(Vec::new()));
                let (into, tx) = (Arc::clone(&kept), tx.clone());
                std::thread::spawn(move || {
                    let mut chunk = [0u8; 8192];
                    // Read to the end, keeping the first KEPT bytes, so the writer never blocks.
                    while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                        let mut kept = into.lock().unwrap_or_else(|e| e.into_inner());
                        let room = KEPT.saturating_sub(kept.len()).min(n);
                        kept.extend_from_slice(&chunk[..room]);
                    }
                    let _ = tx.send(());
                });
                kept
            })
            .collect();
        Output {
            streams,
            done,
            readers,
        }
    }

    /// What was read, once every stream closed or at `until`, whichever is first: a process
    /// that escaped the group may hold a pipe open for ever.
    fn collect(self, until: Instant) -> String {
        for _ in 0..self.readers {
            let left = until.saturating_duration_since(Instant::now());
            if self.done.recv_timeout(left).is_err() {
                break;
            }
        }
        self.streams
            .iter()
            .map(|s| {
                String::from_utf8_lossy(&s.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
            })
            .collect::<Vec<_>>()
            .join("")
    }
}

/// Sends `signal` to the process group `group` (bash's `kill`: bash is there, `kill(1)` may
/// not be). A group that is gone is not an error.
fn signal_group(group: u32, signal: &str) {
    let _ = Command::new("bash")
        .args([
            "-c",
            "kill -s \"$1\" -- \"-$2\" 2>/dev/null",
            "kill",
            signal,
        ])
        .arg(group.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A live process of /proc: its state letter and process group, from `stat`.
fn stat(pid: u32) -> Option<(char, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses.
    let mut fields = text.get(text.rfind(')')? + 1..)?.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let group = fields.nth(1)?.parse().ok()?;
    Some((state, group))
}

fn processes() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
}

fn named(pid: u32) -> Process {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let mut command: String = String::from_utf8_lossy(&raw)
        .split('\0')
        .filter(|a| !a.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if command.chars().count() > 120 {
        command = command.chars().take(117).collect::<String>() + "...";
    }
    Process { pid, command }
}

/// The live processes of the group `group`.
fn members(group: u32) -> Vec<Process> {
    processes()
        .filter(|&pid| stat(pid).is_some_and(|(state, g)| g == group && state != 'Z'))
        .map(named)
        .collect()
}

/// The live processes outside the group `group` whose environment carries the run's marker.
fn escaped(marker: &str, group: u32) -> Vec<Process> {
    let needle = format!("{MARKER}={marker}");
    processes()
        .filter(|&pid| stat(pid).is_some_and(|(state, g)| g != group && state != 'Z'))
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == needle.as_bytes()))
        })
        .map(named)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `pid` is gone (or a zombie) within a few seconds: a killed process dies when
    /// it is next scheduled.
    fn gone(pid: &str) -> bool {
        let pid = pid.trim().parse().unwrap();
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if stat(pid).is_none_or(|(state, _)| state == 'Z') {
                return true;
            }
            std::thread::yield_now();
        }
        false
    }

    #[test]
    fn a_failing_command_stops_the_script_and_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let ran = run_script(
            "echo one\nfalse\necho two",
            dir.path(),
            &[],
            Duration::from_secs(10),
            true,
        )
        .unwrap();
        assert_eq!(ran.code, Some(1));
        assert_eq!(ran.output, "one\n");
    }

    #[test]
    fn the_deadline_kills_the_script_and_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let ran = run_script(
            "sleep 30 & echo $! > pid; wait",
            dir.path(),
            &[("X".into(), "1".into())],
            Duration::from_millis(300),
            true,
        )
        .unwrap();
        assert!(ran.timed_out);
        assert!(!ran.ok());
        let pid = std::fs::read_to_string(dir.path().join("pid")).unwrap();
        assert!(gone(&pid), "the background sleep outlived the deadline");
    }

    // The rehearsal captured the output and waited for it to close: a solution that left
    // `sleep 1000 &` holding the pipes stalled it for 1000 s, past any deadline.
    #[test]
    fn a_background_process_holding_the_output_does_not_stall_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let began = Instant::now();
        let ran = run_script(
            "sleep 1000 & echo $! > pid; echo started",
            dir.path(),
            &[],
            Duration::from_secs(60),
            true,
        )
        .unwrap();
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "{:?}",
            began.elapsed()
        );
        assert!(ran.ok() && !ran.timed_out, "{ran:?}");
        assert_eq!(ran.output, "started\n");
        let pid = std::fs::read_to_string(dir.path().join("pid")).unwrap();
        let ended: Vec<u32> = ran.ended.iter().map(|p| p.pid).collect();
        assert_eq!(ended, [pid.trim().parse::<u32>().unwrap()], "{ran:?}");
        assert!(gone(&pid), "the leftover sleep still runs");
        assert!(ran.escaped.is_empty(), "{ran:?}");
    }

    // A process that leaves the group with setsid escapes the group kill: it must be named,
    // and it must not keep the run waiting on the pipe it holds.
    #[test]
    fn a_process_that_escaped_the_group_is_named_and_does_not_stall_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let began = Instant::now();
        let ran = run_script(
            // Once it runs sleep, setsid(1) has left the group.
            "setsid sleep 1000 & until grep -qx sleep /proc/$!/comm; do sleep 0.05; done; echo $! > pid",
            dir.path(),
            &[],
            Duration::from_secs(60),
            true,
        )
        .unwrap();
        let pid: u32 = std::fs::read_to_string(dir.path().join("pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let _ = Command::new("kill").arg(pid.to_string()).status();
        assert!(
            began.elapsed() < Duration::from_secs(20),
            "{:?}",
            began.elapsed()
        );
        assert!(ran.ok(), "{ran:?}");
        assert_eq!(
            ran.escaped,
            vec![Process {
                pid,
                command: "sleep 1000".into()
            }]
        );
    }
}
