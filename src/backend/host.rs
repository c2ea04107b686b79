//! The one seam to the container tools of the learner's machine: every `docker`, `kind` and
//! `helm` call goes through [`Host`]. The real one runs the programs with a deadline; tests
//! replay recorded outputs in the tools' own formats and see exactly what `lab` asked, in
//! which order.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a program printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    /// Exit code; -1 when it could not start or was killed.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Ran {
    /// Whether it exited 0.
    pub fn ok(&self) -> bool {
        self.code == 0
    }
}

/// Runs the container tools.
pub trait Host {
    /// Runs `program` with `args` (and `stdin`), waiting at most `timeout`. A program that is
    /// not installed gives `Ok` with code 127, as a shell would.
    fn run(
        &self,
        program: &str,
        args: &[&str],
        stdin: Option<&str>,
        timeout: Duration,
    ) -> std::io::Result<Ran>;
}

/// The learner's machine.
pub struct SystemHost;

impl Host for SystemHost {
    fn run(
        &self,
        program: &str,
        args: &[&str],
        stdin: Option<&str>,
        timeout: Duration,
    ) -> std::io::Result<Ran> {
        let mut child = match Command::new(program)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Ran {
                    code: 127,
                    stdout: String::new(),
                    stderr: format!("{program}: not found"),
                });
            }
            Err(e) => return Err(e),
        };
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes())?;
        }
        let read = |stream: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(s) = stream {
                    let _ = s.take(4 * 1024 * 1024).read_to_end(&mut bytes);
                }
                String::from_utf8_lossy(&bytes).into_owned()
            })
        };
        let out = read(
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        );
        let err = read(
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        );
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout = out.join().unwrap_or_default();
        let mut stderr = err.join().unwrap_or_default();
        let code = match status {
            Some(s) => s.code().unwrap_or(-1),
            None => {
                stderr.push_str(&format!("\n(stopped after {} s)", timeout.as_secs()));
                -1
            }
        };
        Ok(Ran {
            code,
            stdout,
            stderr,
        })
    }
}

/// A host that replays recorded answers: each call is matched against the first unused entry
/// whose command line starts with the recorded prefix.
#[derive(Default)]
pub struct Recorded {
    answers: RefCell<Vec<(String, Ran, bool)>>,
    /// Every command line asked, in order (`program arg arg ...`), with its stdin if any.
    pub calls: RefCell<Vec<String>>,
}

impl Recorded {
    /// Records that a command line starting with `prefix` prints `stdout` and exits 0.
    pub fn answer(&self, prefix: &str, stdout: &str) -> &Self {
        self.fail(prefix, 0, stdout, "")
    }

    /// Records that a command line starting with `prefix` prints `stdout` and `stderr` and
    /// exits `code`.
    pub fn fail(&self, prefix: &str, code: i32, stdout: &str, stderr: &str) -> &Self {
        self.answers.borrow_mut().push((
            prefix.to_owned(),
            Ran {
                code,
                stdout: stdout.to_owned(),
                stderr: stderr.to_owned(),
            },
            false,
        ));
        self
    }

    /// The calls so far, one per line.
    pub fn transcript(&self) -> String {
        self.calls
            .borrow()
            .iter()
            .map(|c| format!("{c}\n"))
            .collect()
    }
}

impl Host for Recorded {
    fn run(
        &self,
        program: &str,
        args: &[&str],
        stdin: Option<&str>,
        _timeout: Duration,
    ) -> std::io::Result<Ran> {
        let line = std::iter::once(program)
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        self.calls.borrow_mut().push(match stdin {
            Some(text) => format!("{line} <<< {}", text.lines().next().unwrap_or("")),
            None => line.clone(),
        });
        let mut answers = self.answers.borrow_mut();
        let found = answers
            .iter_mut()
            .find(|(prefix, _, used)| !*used && line.starts_with(prefix.as_str()));
        Ok(match found {
            Some((_, ran, used)) => {
                *used = true;
                ran.clone()
            }
            None => Ran {
                code: 99,
                stdout: String::new(),
                stderr: format!("no recorded answer for `{line}`"),
            },
        })
    }
}
