//! The checked kubeconfig handed to kube-rs: each file parsed by kube-rs from the text `lab`
//! read (kube-rs never opens the kubeconfig itself), its relative paths made absolute from the
//! file's folder, the files merged; kube-rs's credential errors summarized without what the
//! plugin printed. And a kubeconfig pinned to the lab's context, for the commands a solution
//! runs (`kubectl` uses the current context; the lab may run on another), written to a private
//! temporary file (mode 0600, removed when dropped), since it holds the user's credentials.

use std::io::Write;
use std::path::Path;

use kube::client::AuthError;
use kube::config::{KubeconfigError, NamedAuthInfo, NamedCluster};

use super::files::{ExecPlugin, Kubeconfig, SYNTAX_FIX, yaml_error};
use crate::backend::error::BackendError;

/// kube-rs's kubeconfig from the files `lab` read and checked.
pub fn to_kube(config: &Kubeconfig) -> Result<kube::config::Kubeconfig, BackendError> {
    let mut merged = kube::config::Kubeconfig::default();
    for file in &config.files {
        let mut one = kube::config::Kubeconfig::from_yaml(&file.text).map_err(|e| {
            BackendError::BadKubeconfig(match &e {
                KubeconfigError::Parse(e) => yaml_error(&file.path, e, SYNTAX_FIX),
                _ => format!(
                    "{}: kube-rs cannot read it; {SYNTAX_FIX}",
                    file.path.display()
                ),
            })
        })?;
        if let Some(dir) = file.path.parent() {
            absolute_paths(&mut one.clusters, &mut one.auth_infos, dir);
        }
        merged = merged.merge(one).map_err(|e| {
            BackendError::BadKubeconfig(format!(
                "{}: {e}; give KUBECONFIG files of one kind and apiVersion",
                file.path.display()
            ))
        })?;
    }
    Ok(merged)
}

/// Makes the files a kubeconfig names relative to its folder absolute, as kubectl reads them
/// (and a credential plugin's command when it is a path, not a name looked up on `PATH`).
fn absolute_paths(clusters: &mut [NamedCluster], users: &mut [NamedAuthInfo], dir: &Path) {
    let absolute = |value: &mut Option<String>| {
        if let Some(path) = value
            .as_mut()
            .filter(|p| Path::new(p.as_str()).is_relative())
        {
            *path = dir.join(path.as_str()).display().to_string();
        }
    };
    for cluster in clusters.iter_mut().filter_map(|c| c.cluster.as_mut()) {
        absolute(&mut cluster.certificate_authority);
    }
    for user in users.iter_mut().filter_map(|u| u.auth_info.as_mut()) {
        absolute(&mut user.client_certificate);
        absolute(&mut user.client_key);
        absolute(&mut user.token_file);
        if let Some(exec) = user.exec.as_mut()
            && exec.command.as_deref().is_some_and(|c| c.contains('/'))
        {
            absolute(&mut exec.command);
        }
    }
}

/// A credential failure in words that quote nothing the plugin printed (its output holds the
/// credential) and nothing of the kubeconfig: the plugin's program name and exit status.
pub fn auth_failure(error: &AuthError, plugin: Option<&ExecPlugin>) -> String {
    let plugin = match plugin {
        Some(p) => format!("the credential plugin `{}` ({})", p.program, p.at),
        None => "the kubeconfig's credential plugin".to_owned(),
    };
    match error {
        AuthError::AuthExecRun { out, .. } => format!(
            "{plugin} failed ({}); run it yourself to see why, then try again",
            out.status
        ),
        AuthError::AuthExecStart(e) => format!(
            "{plugin} could not be started ({}); check that it is installed and on PATH",
            e.kind()
        ),
        AuthError::AuthExecParse(_) | AuthError::ExecPluginFailed => format!(
            "{plugin} printed no credential `lab` can read; run it yourself to see what it prints"
        ),
        AuthError::MissingCommand => format!("{plugin} has no `command`; add one"),
        AuthError::InvalidBearerToken(_) => "the token is not a valid HTTP header value (a line \
             break in it, or in its token file?); write it on one line"
            .to_owned(),
        AuthError::ReadTokenFile(e, path) => format!(
            "cannot read the token file {} ({}); check that it exists",
            path.display(),
            e.kind()
        ),
        _ => "the kubeconfig's credentials could not be used; check them with `kubectl get \
              --raw /version`"
            .to_owned(),
    }
}

/// A token from a credential plugin (or an `auth-provider`) that no HTTP header can carry.
pub fn unusable_token(plugin: Option<&ExecPlugin>) -> String {
    match plugin {
        Some(p) => format!(
            "the credential plugin `{}` ({}) gave a token that no HTTP header can carry (a line \
             break in it?); run it yourself to see what it prints",
            p.program, p.at
        ),
        None => "the user's `auth-provider` gives a token that no HTTP header can carry (a line \
                 break in it?); write it on one line"
            .to_owned(),
    }
}

/// A temporary kubeconfig whose current context is `context`, or `None` when the user's
/// kubeconfig already has it as its current context.
pub fn pinned(context: &str) -> Result<Option<tempfile::NamedTempFile>, BackendError> {
    let checked = Kubeconfig::read()?;
    checked.context(Some(context))?;
    let mut config = to_kube(&checked)?;
    if config.current_context.as_deref() == Some(context) {
        return Ok(None);
    }
    config.current_context = Some(context.to_owned());
    let failed = |source| BackendError::State {
        what: "writing a temporary kubeconfig".into(),
        source,
    };
    // tempfile creates it 0600.
    let mut file = tempfile::Builder::new()
        .prefix("lab-kubeconfig-")
        .suffix(".json")
        .tempfile()
        .map_err(failed)?;
    let text = serde_json::to_string(&config).map_err(|e| failed(std::io::Error::other(e)))?;
    file.write_all(text.as_bytes()).map_err(failed)?;
    Ok(Some(file))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::backend::kubeconfig::KubeconfigFile;

    #[test]
    fn relative_files_are_read_from_the_kubeconfigs_folder() {
        let checked = Kubeconfig::parse(vec![KubeconfigFile {
            path: PathBuf::from("/etc/lab/config"),
            text: "users:\n- name: u\n  user:\n    client-key: keys/u.key\n    exec: {command: ./bin/token, apiVersion: client.authentication.k8s.io/v1}\n- name: v\n  user:\n    exec: {command: gcloud, apiVersion: client.authentication.k8s.io/v1}\n".into(),
        }])
        .unwrap();
        let config = to_kube(&checked).unwrap();
        let u = config.auth_infos[0].auth_info.as_ref().unwrap();
        assert_eq!(u.client_key.as_deref(), Some("/etc/lab/keys/u.key"));
        assert_eq!(
            u.exec.as_ref().unwrap().command.as_deref(),
            Some("/etc/lab/./bin/token")
        );
        let v = config.auth_infos[1].auth_info.as_ref().unwrap();
        assert_eq!(v.exec.as_ref().unwrap().command.as_deref(), Some("gcloud"));
    }

    #[cfg(unix)]
    fn failed_run() -> AuthError {
        use std::os::unix::process::ExitStatusExt;
        AuthError::AuthExecRun {
            cmd: "\"get-token\" \"--secret\" \"s3cr3t\"".into(),
            out: Box::new(std::process::Output {
                status: std::process::ExitStatus::from_raw(3 << 8),
                stdout: b"{\"status\":{\"token\":\"s3cr3t\"}}".to_vec(),
                stderr: b"s3cr3t".to_vec(),
            }),
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_failed_plugin_is_named_with_its_status_and_nothing_it_printed() {
        // kube-rs's message printed the plugin's stdout and stderr, credential included.
        let error = failed_run();
        let plugin = ExecPlugin {
            program: "get-token".into(),
            at: "/home/u/.kube/config:12".into(),
        };
        assert_eq!(
            auth_failure(&error, Some(&plugin)),
            "the credential plugin `get-token` (/home/u/.kube/config:12) failed (exit status: \
             3); run it yourself to see why, then try again"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_plugin_failing_in_a_token_refresh_is_summarized_too() {
        // A refresh runs the plugin inside a request; the chain's texts embed kube-rs's.
        let error = kube::Error::Service(Box::new(failed_run()));
        assert_eq!(
            crate::backend::cluster::api_message(&error),
            "the kubeconfig's credential plugin failed (exit status: 3); run it yourself to see \
             why, then try again"
        );
    }
}
