use super::*;

fn whats(name: &str, text: &str) -> Vec<(usize, &'static str)> {
    scan(name, text.as_bytes())
        .into_iter()
        .map(|f| (f.line, f.what))
        .collect()
}

#[test]
fn every_kind_of_pem_private_key_is_found_on_its_line() {
    for label in [
        "PRIVATE KEY",
        "EC PRIVATE KEY",
        "RSA PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
        "ENCRYPTED SIGSTORE PRIVATE KEY",
        "ENCRYPTED COSIGN PRIVATE KEY",
    ] {
        let text = format!("notes\n-----BEGIN {label}-----\nMHcCAQEE\n-----END {label}-----\n");
        assert_eq!(whats("k", &text), [(2, "a PEM private key")], "{label}");
    }
}

#[test]
fn a_public_key_or_certificate_is_not_a_secret() {
    let text = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n\
                -----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    assert!(whats("cosign.pub", text).is_empty());
}

#[test]
fn kubeconfig_credentials_are_found_in_yaml_and_json() {
    let yaml = "users:\n- name: kind\n  user:\n    client-certificate-data: LS0tLS1CRUdJTiBDRVJU\n    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVk=\n    token: abcdef0123456789abcdef\n    password: hunter22\n";
    assert_eq!(
        whats("evidence/kubeconfig", yaml),
        [
            (5, "a kubeconfig client key (client-key-data)"),
            (6, "a token field"),
            (7, "a password field"),
        ]
    );
    let json = r#"{"user": {"token": "abcdef0123456789abcdef", "password": "hunter22"}}"#;
    assert_eq!(
        whats("x.json", json),
        [(1, "a token field"), (1, "a password field")]
    );
}

#[test]
fn placeholders_and_empty_fields_are_not_secrets() {
    for text in [
        "token: <your token>",
        "token: ${TOKEN}",
        "token: $GITHUB_TOKEN",
        "password: '***'",
        "password: REDACTED",
        "token:",
        "password: \"\"",
        r#"{"token": null}"#,
    ] {
        assert!(whats("f", text).is_empty(), "{text}");
    }
}

#[test]
fn tokens_of_clouds_and_forges_are_found() {
    let cases = [
        ("AKIAIOSFODNN7EXAMPLE", "an AWS access key id"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "a password field",
        ),
        (
            "AIzaSyA1234567890abcdefghijklmnopqrstuv",
            "a Google API key",
        ),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "a GitHub token"),
        ("glpat-abcdefghij0123456789", "a GitLab token"),
        ("xoxb-1234567890-abcdefghij", "a Slack token"),
        (
            "Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJlMTIz",
            "a bearer token (a JWT)",
        ),
    ];
    for (text, what) in cases {
        assert_eq!(whats("f", text), [(1, what)], "{text}");
    }
}

#[test]
fn a_finding_names_file_and_line_never_the_value() {
    let finding = &scan("evidence/notes.md", b"ok\ntoken: s3cr3t-t0ken-value\n")[0];
    let said = finding.to_string();
    assert_eq!(said, "evidence/notes.md:2: a token field (not shown)");
    assert!(!format!("{finding:?}").contains("s3cr3t"));
}

#[test]
fn binary_data_is_scanned_as_text_where_it_is_text() {
    let mut data = vec![0xffu8, 0x00, 0x13];
    data.extend_from_slice(b"\n-----BEGIN EC PRIVATE KEY-----\n");
    assert_eq!(
        whats("blob", &String::from_utf8_lossy(&data)),
        [(2, "a PEM private key")]
    );
    assert_eq!(scan("blob", &data).len(), 1);
}

/// What ch14's solutions produce and what lab itself writes must pass the scan, or no learner
/// could submit: the chapter's files, its policies and manifests as the course holds them.
#[test]
fn the_chapters_own_files_hold_no_finding() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut scanned = 0;
    for dir in [
        "labs/ch14/policies/keyed",
        "labs/ch14/manifests",
        "runbooks",
    ] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let data = std::fs::read(&path).unwrap();
                assert_eq!(
                    scan(&path.display().to_string(), &data),
                    [],
                    "{}",
                    path.display()
                );
                scanned += 1;
            }
        }
    }
    assert!(scanned >= 5, "scanned only {scanned} files");
}
