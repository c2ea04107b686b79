use super::*;
use crate::submission::sealed::TrustedKey;

fn keys() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("labs/ch14/tests/keys")
}

fn signer_pem() -> Vec<u8> {
    std::fs::read(keys().join("test-only-signer.pub")).unwrap()
}

fn signer_hint() -> String {
    TrustedKey::from_pem(&signer_pem())
        .unwrap()
        .hint()
        .to_owned()
}

fn other_hint() -> String {
    let pem = std::fs::read(keys().join("test-only-other-signer.pub")).unwrap();
    TrustedKey::from_pem(&pem).unwrap().hint().to_owned()
}

fn parse(text: &str) -> Result<Roster, RosterError> {
    Roster::parse("roster.csv", text, &|name| {
        std::fs::read(keys().join(name)).map_err(|e| format!("cannot read {name}: {e}"))
    })
}

fn hex(hint: &str) -> String {
    hex::encode(STANDARD.decode(hint).unwrap())
}

#[test]
fn a_key_is_named_by_file_pem_fingerprint_or_hint_and_each_is_the_same_key() {
    let pem = String::from_utf8(signer_pem()).unwrap();
    let text = format!(
        "ID, Name ,Email,Section,Public Key,Identity\n\
         ada,Ada Lovelace,ada@example.edu,A1,test-only-signer.pub,\n\
         bob,\"Bob, Jr.\",bob@example.edu,A1,\"{}\",\n\
         cy,Cy,,B2,sha256:{},https://github.com/cy/*\n\
         dee,Dee,,B2,{},\n\
         eve,Eve,,,,\n\
         \n",
        pem.trim(),
        hex(&signer_hint()),
        signer_hint()
    );
    let roster = parse(&text).unwrap();
    assert_eq!(
        roster.learners.keys().collect::<Vec<_>>(),
        ["ada", "bob", "cy", "dee", "eve"]
    );
    for id in ["ada", "bob", "cy", "dee"] {
        let learner = roster.get(id).unwrap();
        assert_eq!(learner.holds_key(&signer_hint()), Some(true), "{id}");
        assert_eq!(learner.holds_key(&other_hint()), Some(false), "{id}");
    }
    let eve = roster.get("eve").unwrap();
    assert_eq!(eve.holds_key(&signer_hint()), None);
    assert_eq!(eve.section, None);
    assert_eq!(roster.get("bob").unwrap().name.as_deref(), Some("Bob, Jr."));
    let cy = roster.get("cy").unwrap();
    assert_eq!(
        cy.line, 7,
        "a row starts on its first line; bob's PEM spans four"
    );
    assert_eq!(
        cy.has_identity("https://github.com/cy/labs/.github/workflows/sign.yml@refs/heads/main"),
        Some(true)
    );
    assert_eq!(
        cy.has_identity("https://github.com/mallory/labs/.github/workflows/sign.yml"),
        Some(false)
    );
    assert_eq!(eve.has_identity("anything"), None);
}

#[test]
fn a_byte_order_mark_and_the_other_spellings_of_the_columns_are_read() {
    let roster = parse("\u{feff}learner_id,full_name,fingerprint\nada,Ada,\n").unwrap();
    assert_eq!(roster.get("ada").unwrap().name.as_deref(), Some("Ada"));
}

#[test]
fn every_bad_roster_names_the_file_the_line_and_what_to_do() {
    let cases = [
        (
            "id,name,pubkey\nada,Ada,\n",
            "roster.csv:1: `pubkey` is not a roster column",
        ),
        (
            "name,email\nAda,a@x\n",
            "roster.csv:1: the first row names no `id` column",
        ),
        (
            "id,learner\nada,ada\n",
            "roster.csv:1: the column `id` is named twice",
        ),
        (
            "id,name\nada,Ada\nbob\n",
            "roster.csv:3: this row has 1 cells and the first row 2",
        ),
        ("id,name\nada,Ada\n../x,X\n", "roster.csv:3: "),
        (
            "id,name\nada,Ada\nbob,Bob\nada,Ada again\n",
            "roster.csv:4: learner `ada` is on the roster twice (line 2 too)",
        ),
        (
            "id,public_key\nada,nowhere.pub\n",
            "roster.csv:2: the public_key cell is neither",
        ),
        (
            "id,public_key\nada,sha256:abc\n",
            "roster.csv:2: a fingerprint is `sha256:` and 64 hex digits",
        ),
        (
            "id,public_key\nada,test-only-signer.key\n",
            "roster.csv:2: the public key is not usable",
        ),
    ];
    for (text, expected) in cases {
        let error = parse(text).unwrap_err().to_string();
        assert!(error.starts_with(expected), "{text:?}: {error}");
    }
}

#[test]
fn a_roster_that_is_not_utf8_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.csv");
    std::fs::write(&path, b"id,name\nada,\xff\n").unwrap();
    let error = Roster::read(&path).unwrap_err().to_string();
    assert!(error.contains("UTF-8"), "{error}");
}

#[test]
fn the_roster_rejects_another_key_and_flags_a_stranger_and_another_signer() {
    let roster = parse(
        "id,name,section,public_key,identity\n\
         ada,Ada,A1,test-only-signer.pub,\n\
         cy,Cy,B2,,https://github.com/cy/*\n\
         dee,Dee,B2,,\n",
    )
    .unwrap();
    let ada = roster.judge("ada", &signer_hint(), false, &[]);
    assert_eq!(ada.rejected, None);
    assert_eq!(ada.flags, Vec::<String>::new());
    assert_eq!(ada.who.section.as_deref(), Some("A1"));

    let forged = roster.judge("ada", &other_hint(), false, &[]);
    assert_eq!(
        forged.rejected.as_deref(),
        Some(
            "signed by a key that is not ada's: the roster names another public key (roster.csv:2)"
        )
    );

    let stranger = roster.judge("zed\u{1b}[2J", &signer_hint(), false, &[]);
    assert_eq!(
        stranger.flags,
        ["zed\\u{1b}[2J is not on the roster (roster.csv)"]
    );
    assert_eq!(stranger.rejected, None);

    let workflow = "https://github.com/cy/labs/.github/workflows/sign.yml@refs/heads/main";
    let cy = roster.judge("cy", &other_hint(), true, &[workflow.to_owned()]);
    assert_eq!(
        cy,
        Verdict {
            who: roster.get("cy").unwrap().who(),
            ..Verdict::default()
        }
    );
    let signed_by_another = roster.judge(
        "cy",
        &other_hint(),
        true,
        &["https://github.com/mallory/labs/.github/workflows/sign.yml@refs/heads/main".to_owned()],
    );
    assert_eq!(
        signed_by_another.flags,
        [
            "the image was signed by https://github.com/mallory/labs/.github/workflows/sign.yml@refs/heads/main, not by the identity the roster expects of cy (roster.csv:3)"
        ]
    );
    let unsigned = roster.judge("cy", &other_hint(), true, &[]);
    assert!(
        unsigned.flags[0].starts_with("the image was signed by no certificate identity"),
        "{unsigned:?}"
    );
    // In key mode the identity is not asked for; with no identity on the roster, nothing is.
    assert_eq!(
        roster.judge("cy", &other_hint(), false, &[]).flags,
        Vec::<String>::new()
    );
    assert_eq!(
        roster.judge("dee", &other_hint(), true, &[]).flags,
        Vec::<String>::new()
    );
}

#[test]
fn canvas_and_sis_ids_are_read_for_the_canvas_gradebook() {
    let roster = parse(
        "id,name,section,canvas_id,sis_user_id\n\
         ada,Ada,A1, 4021 ,S-001\n\
         bob,Bob,A1,,\n",
    )
    .unwrap();
    let ada = roster.get("ada").unwrap().who();
    assert_eq!(ada.canvas_id.as_deref(), Some("4021"));
    assert_eq!(ada.sis_user_id.as_deref(), Some("S-001"));
    let bob = roster.get("bob").unwrap().who();
    assert_eq!((bob.canvas_id, bob.sis_user_id), (None, None));
    let other = parse("Student_ID,Canvas User ID,SIS ID\nada,7,x\n").unwrap();
    assert_eq!(other.get("ada").unwrap().canvas_id.as_deref(), Some("7"));
    assert_eq!(other.get("ada").unwrap().sis_user_id.as_deref(), Some("x"));
}

#[test]
fn a_canvas_id_that_is_not_digits_names_its_line() {
    let error = parse("id,canvas_id\nada,4021\nbob,=HYPERLINK(\"x\")\n")
        .unwrap_err()
        .to_string();
    assert!(
        error
            .starts_with("roster.csv:3: the canvas_id `=HYPERLINK(\"x\")` is not a Canvas user id"),
        "{error}"
    );
}
