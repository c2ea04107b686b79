//! The user's kubeconfig (`KUBECONFIG`, `~/.kube/config`), as every live command reads it
//! before kube-rs: parsed and merged, each context checked, its credential plugin named. A
//! message about it never quotes the file: nothing of a value marked with the canary may
//! appear, and no message spans lines (none holds a line of the file).

#![no_main]

use courselab::backend::BackendError;
use courselab::backend::kubeconfig::{Kubeconfig, KubeconfigFile};
use libfuzzer_sys::fuzz_target;

/// Seeds write their token as this; the fuzzer keeps and moves it around.
const CANARY: &str = "s3cr3t";

/// A message about the file's content (not the context names it lists, which are printed
/// as kubectl prints them).
fn assert_quotes_nothing(error: &BackendError) {
    if let BackendError::BadKubeconfig(message) = error {
        assert!(!message.contains(CANARY), "quoted: {message}");
        assert!(!message.contains('\n'), "spans lines: {message}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = KubeconfigFile {
        path: "fuzz/kubeconfig".into(),
        text: text.to_owned(),
    };
    let config = match Kubeconfig::parse(vec![file]) {
        Ok(config) => config,
        Err(error) => {
            assert!(matches!(error, BackendError::BadKubeconfig(_)), "{error}");
            assert_quotes_nothing(&error);
            return;
        }
    };
    let names: Vec<String> = config
        .context_names()
        .into_iter()
        .take(16)
        .map(str::to_owned)
        .collect();
    for name in &names {
        match config.context(Some(name)) {
            Ok(found) => assert_eq!(&found, name),
            Err(error) => assert_quotes_nothing(&error),
        }
        if let Some(plugin) = config.exec_plugin(name) {
            assert!(!plugin.program.contains('/'), "{plugin:?}");
            assert!(plugin.program.chars().count() <= 64, "{plugin:?}");
        }
    }
    if let Err(error) = config.context(None) {
        assert_quotes_nothing(&error);
    }
});
