//! Hostile input and hostile solutions, as `lab solve --run` and `lab stop --delete` meet
//! them: values that look like code, a Ctrl-C while the solution runs, a solution that leaves
//! a process behind or escapes its group, a kind cluster the lab did not create. No cluster
//! is needed: `kubectl`, `docker` and `kind` are stand-ins on the PATH.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::{copy_tree, fixture, lab, output, repo};

/// The walk course's `pin-app` solution, which `Solving::new` may replace.
const PIN_APP: &str =
    "      kubectl set image -n develop deployment/app app=${image_registry}/app@sha256:0000\n";

/// A learner's folder with the walk lab started on the context `kind-lab-walk`, a kubeconfig
/// whose current context is another (so `lab` writes a pinned one into `tmp`), and a
/// `kubectl` that records what it was given.
struct Solving {
    _dir: tempfile::TempDir,
    course: PathBuf,
    work: PathBuf,
    tmp: PathBuf,
    bin: PathBuf,
    kubeconfig: PathBuf,
}

impl Solving {
    fn new(solution: Option<&str>, state_set: &[(&str, &str)]) -> Solving {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        let course = root.join("course");
        copy_tree(&fixture("course-walk"), &course);
        if let Some(script) = solution {
            let lab = course.join("labs/walk/lab.yaml");
            let text = std::fs::read_to_string(&lab).unwrap();
            assert!(text.contains(PIN_APP));
            let indented: String = script.lines().map(|l| format!("      {l}\n")).collect();
            std::fs::write(&lab, text.replace(PIN_APP, &indented)).unwrap();
        }
        let work = root.join("work");
        std::fs::create_dir_all(work.join(".lab/walk")).unwrap();
        let state = serde_json::json!({
            "schema_version": 1,
            "chapter": "walk",
            "context": "kind-lab-walk",
            "set": state_set,
            "mode": "Audit",
        });
        std::fs::write(work.join(".lab/walk/state.json"), state.to_string()).unwrap();
        let kubeconfig = root.join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            "apiVersion: v1\nkind: Config\ncurrent-context: elsewhere\n\
             clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n\
             users: [{name: u, user: {token: not-a-real-token}}]\n\
             contexts:\n- {name: elsewhere, context: {cluster: c, user: u}}\n\
             - {name: kind-lab-walk, context: {cluster: c, user: u}}\n",
        )
        .unwrap();
        let bin = root.join("bin");
        std::fs::create_dir(&bin).unwrap();
        let kubectl = bin.join("kubectl");
        std::fs::write(
            &kubectl,
            "#!/bin/bash\nprintf '%s\\n' \"$@\" > kubectl-args\ncp \"$KUBECONFIG\" kubectl-kubeconfig\n",
        )
        .unwrap();
        std::fs::set_permissions(
            &kubectl,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let tmp = root.join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        Solving {
            _dir: dir,
            course,
            work,
            tmp,
            bin,
            kubeconfig,
        }
    }

    fn path(&self) -> String {
        format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// `lab solve walk --step pin-app --run` with `more` arguments.
    fn args(&self, more: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = vec!["--course".into(), self.course.display().to_string()];
        args.extend(
            ["solve", "walk", "--step", "pin-app", "--run"]
                .iter()
                .chain(more)
                .map(|s| (*s).to_owned()),
        );
        args
    }

    fn solve(&self, more: &[&str]) -> (i32, String, String) {
        output(
            lab(&self.work)
                .args(self.args(more))
                .env("KUBECONFIG", &self.kubeconfig)
                .env("TMPDIR", &self.tmp)
                .env("PATH", self.path())
                .timeout(Duration::from_secs(60)),
        )
    }

    /// What is left in the temporary folder `lab` was given.
    fn tmp_files(&self) -> Vec<String> {
        std::fs::read_dir(&self.tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.work.join(name)).unwrap_or_default()
    }
}

/// Waits (bounded) until `path` exists.
fn await_file(path: &Path) {
    let until = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        assert!(Instant::now() < until, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether the process `pid` is gone (or a zombie) within a few seconds.
fn gone(pid: &str) -> bool {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        match std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())) {
            Err(_) => return true,
            Ok(stat)
                if stat
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z') =>
            {
                return true;
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    false
}

fn kill(pid: &str, signal: &str) {
    let status = std::process::Command::new("kill")
        .args(["-s", signal, pid.trim()])
        .status()
        .unwrap();
    assert!(status.success());
}

// `--set image_registry=$(touch pwned)` ran the command: values were pasted unquoted into the
// bash of `lab solve --run`, and so were the values kept in state.json.
#[test]
fn a_set_or_state_value_that_looks_like_code_never_runs_in_solve_run() {
    let hostile = "x$(touch pwned)`touch pwned`'\"; touch pwned #* y";
    for from_state in [true, false] {
        let state: &[(&str, &str)] = if from_state {
            &[("image_registry", hostile)]
        } else {
            &[]
        };
        let solving = Solving::new(None, state);
        let set = format!("image_registry={hostile}");
        let more: Vec<&str> = if from_state {
            vec![]
        } else {
            vec!["--set", &set]
        };
        let (code, stdout, stderr) = solving.solve(&more);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(
            !solving.work.join("pwned").exists(),
            "the value ran as code"
        );
        // kubectl got the value as one argument, as the screen shows it.
        assert_eq!(
            solving.read("kubectl-args"),
            format!("set\nimage\n-n\ndevelop\ndeployment/app\napp={hostile}/app@sha256:0000\n")
        );
        insta::allow_duplicates! {
            insta::assert_snapshot!(stdout, @r#"
            # lab walk, step pin-app: a solution
            kubectl set image -n develop deployment/app app=x$(touch pwned)`touch pwned`'"; touch pwned #* y/app@sha256:0000
            # running it
            # done; `lab check --step pin-app` checks it
            "#);
        }
        // The pinned kubeconfig was the solution's, and is gone with it.
        assert!(
            solving
                .read("kubectl-kubeconfig")
                .contains("\"current-context\":\"kind-lab-walk\""),
            "{}",
            solving.read("kubectl-kubeconfig")
        );
        assert_eq!(solving.tmp_files(), Vec::<String>::new());
    }
}

// Ctrl-C ended `lab` but not the solution (its own process group), and the kubeconfig `lab`
// wrote for it, with the user's credentials, stayed in $TMPDIR.
#[test]
fn ctrl_c_on_solve_run_ends_the_solutions_group_and_removes_its_kubeconfig() {
    let solving = Solving::new(
        Some(
            "echo \"$KUBECONFIG\" > kubeconfig-path\n\
             sleep 1000 &\necho $! > background\necho $$ > bash\ntouch ready\nsleep 1000",
        ),
        &[],
    );
    let stdout = std::fs::File::create(solving.work.join("lab.out")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lab"))
        .current_dir(&solving.work)
        .arg("--color=never")
        .args(solving.args(&[]))
        .env_remove("LAB_COURSE")
        .env("KUBECONFIG", &solving.kubeconfig)
        .env("TMPDIR", &solving.tmp)
        .env("PATH", solving.path())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    await_file(&solving.work.join("ready"));
    let pinned = PathBuf::from(solving.read("kubeconfig-path").trim());
    assert!(
        pinned.starts_with(&solving.tmp) && pinned.exists(),
        "{pinned:?}"
    );

    kill(&child.id().to_string(), "INT");
    let until = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < until, "lab did not end after Ctrl-C");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        gone(&solving.read("background")),
        "the background sleep still runs"
    );
    assert!(
        gone(&solving.read("bash")),
        "the solution's bash still runs"
    );
    assert!(!pinned.exists(), "the pinned kubeconfig stayed");
    assert_eq!(solving.tmp_files(), Vec::<String>::new());
}

// A solution that escapes its process group with setsid outlives every group kill: `lab`
// must say so, by pid and command, rather than leave it unnoticed.
#[test]
fn a_solution_that_escapes_its_group_with_setsid_is_named() {
    let solving = Solving::new(
        Some(
            "setsid sleep 1000 > /dev/null 2>&1 < /dev/null &\n\
             until grep -qx sleep /proc/$!/comm; do sleep 0.05; done\necho $! > escaped",
        ),
        &[],
    );
    let (code, stdout, stderr) = solving.solve(&[]);
    let pid = solving.read("escaped").trim().to_owned();
    let still_ran = !gone_now(&pid);
    kill(&pid, "KILL");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(still_ran, "the escaped sleep did not run when lab ended");
    assert!(
        stdout.contains(&format!(
            "# pid {pid} (sleep 1000) left the solution's process group and still runs; `kill {pid}` ends it\n"
        )),
        "{stdout}"
    );
}

fn gone_now(pid: &str) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

// A solution that left `sleep 1000 &` behind held the output open, and the rehearsal (which
// captures it) stalled past its deadline; `lab solve --run` left the sleep running.
#[test]
fn a_solution_that_leaves_a_background_process_does_not_hold_lab_past_its_end() {
    let solving = Solving::new(Some("sleep 1000 &\necho $! > background"), &[]);
    let began = Instant::now();
    let (code, stdout, stderr) = solving.solve(&["--timeout", "30"]);
    assert!(
        began.elapsed() < Duration::from_secs(30),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let pid = solving.read("background").trim().to_owned();
    assert!(
        stdout.contains(&format!("# the solution left pid {pid} running (")),
        "{stdout}"
    );
    assert!(gone(&pid), "the background sleep still runs");
}

/// A kind lab's folder whose state records creating the cluster `recorded`, with the fake
/// docker and kind knowing one cluster, `lab-walk`, the name the walk lab's kind config gives.
fn kind_lab(recorded: &str) -> (Solving, PathBuf, Vec<(String, String)>) {
    let solving = Solving::new(None, &[]);
    let fake = solving.work.join("fake-state");
    std::fs::create_dir(&fake).unwrap();
    std::fs::write(fake.join("cluster"), "lab-walk\n").unwrap();
    std::fs::write(fake.join("lab-walk-control-plane"), "[]").unwrap();
    let state = serde_json::json!({
        "schema_version": 1,
        "chapter": "walk",
        "context": "kind-lab-walk",
        "kind_cluster": recorded,
        "mode": "Audit",
    });
    std::fs::write(solving.work.join(".lab/walk/state.json"), state.to_string()).unwrap();
    let log = solving.work.join("fake.log");
    let env = vec![
        ("FAKE_STATE".to_owned(), fake.display().to_string()),
        ("FAKE_LOG".to_owned(), log.display().to_string()),
        (
            "PATH".to_owned(),
            format!(
                "{}:{}",
                repo().join("tests/fixtures/fake-tools").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        ),
    ];
    (solving, log, env)
}

// `lab stop --delete` deleted the cluster the kind config names whenever the state recorded
// creating *a* cluster, even when the one it recorded was another: the name was not compared.
#[test]
fn stop_delete_leaves_a_kind_cluster_the_lab_did_not_record_creating() {
    for (recorded, deleted) in [("lab-walk-old", false), ("lab-walk", true)] {
        let (solving, log, env) = kind_lab(recorded);
        let (code, stdout, stderr) = output(
            lab(&solving.work)
                .arg("--course")
                .arg(&solving.course)
                .args(["stop", "walk", "--delete"])
                .envs(env.iter().map(|(k, v)| (k, v))),
        );
        assert_eq!(code, 0, "{stdout}{stderr}");
        let calls = std::fs::read_to_string(&log).unwrap_or_default();
        assert_eq!(
            calls.contains("kind delete cluster --name lab-walk"),
            deleted,
            "{calls}"
        );
        let cluster = if deleted {
            "deleted".to_owned()
        } else {
            "left alone (the lab's state records creating the cluster `lab-walk-old`, not this one; `kind delete cluster --name lab-walk` deletes it if it is yours to delete)".to_owned()
        };
        assert_eq!(
            stdout,
            format!(
                "  kind cluster lab-walk: {cluster}\nlab walk deleted; `lab start walk` begins afresh\n"
            )
        );
    }
}

// `lab solve --run` on a machine without bash exited 2, "bad usage", while a missing docker
// exits 3: a grader read the learner's command line as wrong. It is 3, and the pinned
// kubeconfig is still removed.
#[test]
fn solve_run_without_bash_exits_3_not_2() {
    let solving = Solving::new(None, &[]);
    let (code, stdout, stderr) = output(
        lab(&solving.work)
            .args(solving.args(&[]))
            .env("KUBECONFIG", &solving.kubeconfig)
            .env("TMPDIR", &solving.tmp)
            .env("PATH", &solving.bin)
            .timeout(Duration::from_secs(60)),
    );
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(
        stderr.starts_with("error: cannot run bash for the solution: "),
        "{stderr}"
    );
    assert!(stderr.ends_with("; install bash\n"), "{stderr}");
    assert_eq!(solving.tmp_files(), Vec::<String>::new());
}
