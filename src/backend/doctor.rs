//! The preflight of `lab doctor` and `lab start`: the tools the lab lists at their versions,
//! and for a kind lab a Docker engine that answers, cgroup v2, memory, the registry's host
//! port, and Linux inotify limits. Each problem says how to fix it; nothing is changed.

use std::time::Duration;

use serde::Serialize;

use super::host::Host;
use crate::content::model::Lab;

/// How a finding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Fine.
    Ok,
    /// Works, but may be slow or fail under load.
    Warning,
    /// Must be fixed before `lab start`.
    Problem,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// What was checked, e.g. `cosign` or `port 5001`.
    pub check: String,
    /// How it stands.
    pub level: Level,
    /// What was found.
    pub found: String,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    /// Whether it keeps `lab start` from provisioning: the machine's own tools and engine,
    /// never a learner's tool (cosign, crane, syft), which only the step that uses it needs.
    pub fn blocks_start(&self) -> bool {
        self.level == Level::Problem
            && (matches!(
                self.check.as_str(),
                "docker" | "kind" | "helm" | "Docker engine" | "cgroup"
            ) || self.check.starts_with("port ")
                || self.check.starts_with("bundle"))
    }

    fn ok(check: &str, found: impl Into<String>) -> Self {
        Finding {
            check: check.to_owned(),
            level: Level::Ok,
            found: found.into(),
            fix: None,
        }
    }

    fn bad(level: Level, check: &str, found: impl Into<String>, fix: impl Into<String>) -> Self {
        Finding {
            check: check.to_owned(),
            level,
            found: found.into(),
            fix: Some(fix.into()),
        }
    }
}

const QUICK: Duration = Duration::from_secs(20);

/// How each tool tells its version.
fn version_args(tool: &str) -> &'static [&'static str] {
    match tool {
        "docker" => &["version", "--format", "{{.Client.Version}}"],
        "kubectl" => &["version", "--client"],
        "helm" => &["version", "--short"],
        "crane" => &["version"],
        _ => &["version"],
    }
}

/// The first `MAJOR.MINOR.PATCH` in a tool's version output (after a `GitVersion:` label
/// when there is one, as cosign prints a banner first).
pub fn parse_version(text: &str) -> Option<semver::Version> {
    let re = regex::Regex::new(r"v?(\d+)\.(\d+)\.(\d+)").expect("a valid pattern");
    let from = text.find("GitVersion:").unwrap_or(0);
    let c = re.captures(&text[from..])?;
    Some(semver::Version::new(
        c[1].parse().ok()?,
        c[2].parse().ok()?,
        c[3].parse().ok()?,
    ))
}

/// Checks one tool against its minimum version.
fn tool(host: &impl Host, name: &str, min: &str, purpose: &str, install: &str) -> Finding {
    let ran = match host.run(name, version_args(name), None, QUICK) {
        Ok(ran) => ran,
        Err(e) => {
            return Finding::bad(
                Level::Problem,
                name,
                format!("cannot run it: {e}"),
                format!("install it: {install}"),
            );
        }
    };
    if ran.code == 127 {
        return Finding::bad(
            Level::Problem,
            name,
            "not found",
            format!("install {name} ({purpose}): {install}"),
        );
    }
    let Some(found) = parse_version(&format!("{}{}", ran.stdout, ran.stderr)) else {
        return Finding::bad(
            Level::Warning,
            name,
            "its version could not be read",
            format!("check that `{name} version` works"),
        );
    };
    match semver::Version::parse(min.trim_start_matches('v')) {
        Ok(min) if found < min => Finding::bad(
            Level::Problem,
            name,
            format!("{found}, older than {min}"),
            format!("upgrade {name} to {min} or newer: {install}"),
        ),
        _ => Finding::ok(name, found.to_string()),
    }
}

fn docker_engine(host: &impl Host) -> Vec<Finding> {
    let server = host.run(
        "docker",
        &["version", "--format", "{{.Server.Version}}"],
        None,
        QUICK,
    );
    match server {
        Ok(ran) if ran.ok() => {}
        Ok(ran) => {
            let said = ran.stderr.lines().last().unwrap_or("no answer").to_owned();
            let fix = if said.contains("permission denied") {
                "join the docker group (`sudo usermod -aG docker $USER`, then log in again)"
            } else {
                "start Docker (Docker Desktop, or `sudo systemctl start docker`)"
            };
            return vec![Finding::bad(Level::Problem, "Docker engine", said, fix)];
        }
        Err(e) => {
            return vec![Finding::bad(
                Level::Problem,
                "Docker engine",
                e.to_string(),
                "install Docker",
            )];
        }
    }
    let mut found = vec![Finding::ok("Docker engine", "answers")];
    let info = |format: &str| {
        host.run("docker", &["info", "--format", format], None, QUICK)
            .ok()
            .filter(|r| r.ok())
            .map(|r| r.stdout.trim().to_owned())
    };
    match info("{{.CgroupVersion}}").as_deref() {
        Some("2") | None => {}
        Some(v) => found.push(Finding::bad(
            Level::Problem,
            "cgroup",
            format!("cgroup v{v}"),
            "Kubernetes 1.35 node images need cgroup v2: boot with `systemd.unified_cgroup_hierarchy=1`",
        )),
    }
    if let Some(bytes) = info("{{.MemTotal}}").and_then(|m| m.parse::<u64>().ok()) {
        let gib = bytes as f64 / (1024.0 * 1024.0 * 1024.0);
        if gib < 4.0 {
            found.push(Finding::bad(
                Level::Warning,
                "memory",
                format!("{gib:.1} GiB for containers"),
                "give Docker at least 4 GiB (Docker Desktop: Settings, Resources)",
            ));
        } else {
            found.push(Finding::ok(
                "memory",
                format!("{gib:.1} GiB for containers"),
            ));
        }
    }
    found
}

/// Whether `port` on 127.0.0.1 is free, or held by the lab's own registry container.
fn port(host: &impl Host, lab: &Lab) -> Finding {
    let port = lab.cluster.registry.host_port;
    let check = format!("port {port}");
    if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
        return Finding::ok(&check, "free");
    }
    let ours = host
        .run(
            "docker",
            &[
                "inspect",
                "--type",
                "container",
                "--format",
                "{{index .Config.Labels \"dev.courselab.lab\"}}",
                &lab.cluster.registry.name,
            ],
            None,
            QUICK,
        )
        .ok()
        .is_some_and(|r| r.ok() && r.stdout.trim() == lab.id.value.0);
    if ours {
        return Finding::ok(
            &check,
            format!("held by the lab's registry {}", lab.cluster.registry.name),
        );
    }
    Finding::bad(
        Level::Problem,
        &check,
        "taken by another program",
        format!("stop what listens on 127.0.0.1:{port} (`ss -ltnp 'sport = :{port}'` names it)"),
    )
}

fn inotify() -> Vec<Finding> {
    let read = |name: &str| {
        std::fs::read_to_string(format!("/proc/sys/fs/inotify/{name}"))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    let mut found = Vec::new();
    for (name, min) in [("max_user_watches", 524_288), ("max_user_instances", 512)] {
        match read(name) {
            Some(v) if v < min => found.push(Finding::bad(
                Level::Warning,
                &format!("inotify {name}"),
                v.to_string(),
                format!("kind needs more: `sudo sysctl fs.inotify.{name}={min}` (and the same line in /etc/sysctl.conf)"),
            )),
            Some(v) => found.push(Finding::ok(&format!("inotify {name}"), v.to_string())),
            None => {}
        }
    }
    found
}

/// Runs the preflight. `kind` says whether the lab provisions kind (else docker and kind are
/// not needed); `helm` whether Kyverno is installed by `lab`.
pub fn doctor(host: &impl Host, lab: &Lab, kind: bool, helm: bool) -> Vec<Finding> {
    let mut found = Vec::new();
    for t in &lab.tools {
        if !kind && (t.name == "docker" || t.name == "kind") {
            continue;
        }
        found.push(tool(
            host,
            &t.name,
            &t.min_version.value,
            &t.purpose,
            &t.install,
        ));
    }
    if helm && !lab.tools.iter().any(|t| t.name == "helm") {
        found.push(tool(
            host,
            "helm",
            "3.12.0",
            "installs Kyverno's chart",
            "https://helm.sh/docs/intro/install/",
        ));
    }
    if kind {
        found.extend(docker_engine(host));
        found.push(port(host, lab));
        found.extend(inotify());
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_as_each_tool_prints_them() {
        let v = |s: &str| parse_version(s).map(|v| v.to_string());
        assert_eq!(
            v("kind v0.33.0 go1.25.1 linux/amd64").as_deref(),
            Some("0.33.0")
        );
        assert_eq!(
            v("Client Version: v1.36.3\nKustomize Version: v5.8.1\n").as_deref(),
            Some("1.36.3")
        );
        assert_eq!(
            v("  ____ banner 1.2.3? no\ncosign: A tool\n\nGitVersion:    v3.1.2\n").as_deref(),
            Some("3.1.2")
        );
        assert_eq!(v("v3.16.2+g13654a5").as_deref(), Some("3.16.2"));
        assert_eq!(v("27.3.1\n").as_deref(), Some("27.3.1"));
        assert_eq!(v("unknown"), None);
    }
}
