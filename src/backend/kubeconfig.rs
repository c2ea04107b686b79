//! A kubeconfig pinned to the lab's context, for the commands a solution runs (`kubectl`
//! uses the current context; the lab may run on another). Written to a private temporary
//! file (mode 0600, removed when dropped), since it holds the same credentials as the user's.

use std::io::Write;

use kube::config::Kubeconfig;

use super::error::BackendError;

/// A temporary kubeconfig whose current context is `context`, or `None` when the user's
/// kubeconfig already has it as its current context.
pub fn pinned(context: &str) -> Result<Option<tempfile::NamedTempFile>, BackendError> {
    let mut config = Kubeconfig::read()
        .map_err(|e| BackendError::Kubeconfig(format!("cannot read the kubeconfig: {e}")))?;
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
