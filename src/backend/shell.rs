//! Running a step's solution: bash with `set -euo pipefail`, in the working folder, with a
//! deadline after which the whole process group is killed; its output captured (for the
//! rehearsal's report) or passed through (for a learner's `lab solve --run`).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How a solution ended.
#[derive(Debug, Clone)]
pub struct Ran {
    /// Exit code; `None` when killed (a signal or the deadline).
    pub code: Option<i32>,
    /// Whether the deadline killed it.
    pub timed_out: bool,
    /// Standard output and error, interleaved per stream (empty when passed through).
    pub output: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl Ran {
    /// Whether it succeeded.
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs `script` with bash in `dir` with `env` added; `capture` collects the output (at most
/// 1 MiB of each stream), otherwise it goes to this process's own.
pub fn run_script(
    script: &str,
    dir: &Path,
    env: &[(String, String)],
    timeout: Duration,
    capture: bool,
) -> std::io::Result<Ran> {
    let started = Instant::now();
    let mut command = Command::new("bash");
    command
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .process_group(0);
    if capture {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let mut child = command.spawn()?;
    let readers: Vec<_> = [
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
    .map(|stream| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = stream.take(1024 * 1024).read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    })
    .collect();
    let deadline = started + timeout;
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            // The whole group: bash and whatever it started.
            let pgid = child.id().to_string();
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .status();
            let _ = child.kill();
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = readers
        .into_iter()
        .filter_map(|r| r.join().ok())
        .collect::<Vec<_>>()
        .join("");
    Ok(Ran {
        code: status.code(),
        timed_out,
        output,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !Path::new(&format!("/proc/{}", pid.trim())).exists()
                || std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
                    .is_ok_and(|s| s.contains(") Z ")),
            "the background sleep outlived the deadline"
        );
    }
}
