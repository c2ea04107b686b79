//! `lab grade --anonymize`: the class with every learner's id, name, email and file name
//! replaced by a pseudonym, once, before any report is written, so that every format shows
//! the same pseudonyms and none shows who anyone is. A pseudonym is a keyed hash of the id
//! (HMAC-SHA-256 with a random key), not a plain hash: anyone holding the roster could hash
//! its ids and match them. The key lives in the reveal map, the one file that says who each
//! pseudonym is, and is reused when that file exists, so reruns of a class keep their
//! pseudonyms. The messages that name a learner are written with the pseudonym at their
//! source ([`Naming`]), so no id survives in a flag's text.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};

use super::class::Submission;

/// The version of the reveal map file.
pub const REVEAL_MAP_VERSION: u32 = 1;

/// Hex digits of the keyed hash a pseudonym keeps: 40 bits, so that two learners of a class
/// of ten thousand share one with a chance of about 1 in 20,000 (and that is refused, not
/// merged: see [`RevealMap::merge`]).
const DIGITS: usize = 10;

/// Who a pseudonym stands for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revealed {
    /// The learner id.
    pub id: String,
    /// Their name, from the roster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Their email, from the roster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// The reveal map: the key the pseudonyms are drawn with and who each stands for. It is a
/// secret of the instructor's, written apart from the reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevealMap {
    /// [`REVEAL_MAP_VERSION`].
    pub schema_version: u32,
    /// What this file is, for whoever finds it.
    pub about: String,
    /// The HMAC-SHA-256 key, hex: whoever has it can test a guessed id against a pseudonym.
    pub key: String,
    /// Each learner pseudonym, and who it is.
    pub learners: BTreeMap<String, Revealed>,
    /// Each file pseudonym, and the files it stands for, as they were given.
    pub files: BTreeMap<String, BTreeSet<String>>,
}

const ABOUT: &str = "lab grade --anonymize: who each pseudonym of the reports is. Keep it apart from the reports; its key draws the same pseudonyms on the next run.";

/// Why a reveal map cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RevealError {
    /// Not a reveal map `lab grade` wrote.
    #[error(
        "not a reveal map lab grade wrote ({0}); give --reveal-map a new path, or the file an earlier --anonymize run wrote"
    )]
    Unreadable(String),
    /// Two ids drew the same pseudonym.
    #[error(
        "{pseudonym} stands for two learners in the reveal map; move the reveal map aside to draw a new key (every pseudonym changes)"
    )]
    Collision {
        /// The pseudonym both drew.
        pseudonym: String,
    },
}

impl RevealMap {
    /// A new, empty map with a fresh random key.
    pub fn fresh() -> Result<Self, RevealError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| {
            RevealError::Unreadable(format!("no randomness for its key from the system: {e}"))
        })?;
        Ok(RevealMap {
            schema_version: REVEAL_MAP_VERSION,
            about: ABOUT.to_owned(),
            key: hex::encode(key),
            learners: BTreeMap::new(),
            files: BTreeMap::new(),
        })
    }

    /// The map a file holds.
    pub fn parse(text: &str) -> Result<Self, RevealError> {
        let map: RevealMap =
            serde_json::from_str(text).map_err(|e| RevealError::Unreadable(e.to_string()))?;
        if map.schema_version != REVEAL_MAP_VERSION {
            return Err(RevealError::Unreadable(format!(
                "schema_version {}, this lab writes {REVEAL_MAP_VERSION}",
                map.schema_version
            )));
        }
        if key_bytes(&map.key).is_none() {
            return Err(RevealError::Unreadable(
                "its key is not 64 hex digits".into(),
            ));
        }
        Ok(map)
    }

    /// The file's text.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a reveal map serializes");
        text.push('\n');
        text
    }

    /// Adds what `pseudonyms` drew in this run; a pseudonym already standing for another id
    /// is refused (it would name two learners).
    pub fn merge(&mut self, pseudonyms: &Pseudonyms) -> Result<(), RevealError> {
        let drawn = pseudonyms.lock();
        for (pseudonym, who) in &drawn.learners {
            match self.learners.get_mut(pseudonym) {
                Some(known) if known.id != who.id => {
                    return Err(RevealError::Collision {
                        pseudonym: pseudonym.clone(),
                    });
                }
                Some(known) => {
                    known.name = who.name.clone().or(known.name.take());
                    known.email = who.email.clone().or(known.email.take());
                }
                None => {
                    self.learners.insert(pseudonym.clone(), who.clone());
                }
            }
        }
        for (pseudonym, files) in &drawn.files {
            self.files
                .entry(pseudonym.clone())
                .or_default()
                .extend(files.iter().cloned());
        }
        Ok(())
    }
}

fn key_bytes(key: &str) -> Option<[u8; 32]> {
    if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&key[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[derive(Debug, Default)]
struct Drawn {
    learners: BTreeMap<String, Revealed>,
    files: BTreeMap<String, BTreeSet<String>>,
}

/// Draws pseudonyms with a reveal map's key and remembers whom each stands for. Shared by the
/// grading threads (the messages they write name learners by pseudonym).
#[derive(Debug)]
pub struct Pseudonyms {
    key: [u8; 32],
    drawn: Mutex<Drawn>,
}

impl Pseudonyms {
    /// Pseudonyms drawn with `map`'s key.
    pub fn new(map: &RevealMap) -> Self {
        Pseudonyms {
            key: key_bytes(&map.key).expect("a parsed reveal map has a 32-byte key"),
            drawn: Mutex::new(Drawn::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Drawn> {
        self.drawn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn keyed(&self, domain: &str, text: &str) -> String {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.key)
            .expect("HMAC takes a key of any length");
        // The domain keeps a learner id and a file name that happen to be equal apart.
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(text.as_bytes());
        let mut digits = hex::encode(mac.finalize().into_bytes());
        digits.truncate(DIGITS);
        digits
    }

    /// The pseudonym of learner `id`.
    pub fn learner(&self, id: &str) -> String {
        let pseudonym = format!("learner-{}", self.keyed("learner", id));
        self.lock()
            .learners
            .entry(pseudonym.clone())
            .or_insert_with(|| Revealed {
                id: id.to_owned(),
                ..Revealed::default()
            });
        pseudonym
    }

    /// The pseudonym of the submission file `path`, from its file name (the part that holds
    /// an id; the folder it was given in does not change it).
    pub fn file(&self, path: &str) -> String {
        let name = path.rsplit('/').next().unwrap_or(path);
        let pseudonym = format!("file-{}.tar.gz", self.keyed("file", name));
        self.lock()
            .files
            .entry(pseudonym.clone())
            .or_default()
            .insert(path.to_owned());
        pseudonym
    }

    /// Replaces, in every submission, the learner id, the name and email the roster gave and
    /// the file, and any mention of the file in its own messages. The name becomes the
    /// pseudonym (reports that need a name show it); the email and the Canvas and SIS ids are
    /// dropped. The section stays:
    /// it names a group, not a person.
    pub fn anonymize(&self, class: &mut [Submission]) {
        for s in class {
            if let Some(id) = s.learner.take() {
                let pseudonym = self.learner(&id);
                if let Some(known) = self.lock().learners.get_mut(&pseudonym) {
                    known.name = s.who.name.clone().or(known.name.take());
                    known.email = s.who.email.clone().or(known.email.take());
                }
                if s.who.name.is_some() {
                    s.who.name = Some(pseudonym.clone());
                }
                s.learner = Some(pseudonym);
            } else {
                s.who.name = None;
            }
            // Canvas's and the SIS's ids name a person as surely as the email does.
            s.who.email = None;
            s.who.canvas_id = None;
            s.who.sis_user_id = None;
            if s.file.is_empty() {
                continue;
            }
            let file = self.file(&s.file);
            // A reason to reject may quote the path (a read error names the file).
            let original = std::mem::replace(&mut s.file, file);
            let scrub = |text: &mut String| {
                if text.contains(&original) {
                    *text = text.replace(&original, &s.file);
                }
            };
            if let Some(why) = &mut s.rejected {
                scrub(why);
            }
            for flag in &mut s.flags {
                scrub(flag);
            }
        }
    }
}

/// How the grader names learners in the messages it writes: by id, or by pseudonym when
/// anonymizing (and then without what else would tell who they are: the roster's line, the
/// certificate identities that signed).
#[derive(Debug, Clone, Copy, Default)]
pub struct Naming<'a> {
    pseudonyms: Option<&'a Pseudonyms>,
}

impl<'a> Naming<'a> {
    /// Names by pseudonym when `pseudonyms` is given.
    pub fn new(pseudonyms: Option<&'a Pseudonyms>) -> Self {
        Naming { pseudonyms }
    }

    /// The learner `id`, as a message shows it.
    pub fn learner(&self, id: &str) -> String {
        match self.pseudonyms {
            Some(p) => p.learner(id),
            None => crate::text::printable(id).into_owned(),
        }
    }

    /// A place in the roster: `file:line`, or only the file when anonymizing (the line would
    /// say who, to anyone holding the roster).
    pub fn roster_line(&self, file: &str, line: u64) -> String {
        match self.pseudonyms {
            Some(_) => file.to_owned(),
            None => format!("{file}:{line}"),
        }
    }

    /// Certificate identities (often a learner's email or account), as a message shows them.
    pub fn identities(&self, identities: &[String]) -> String {
        match (self.pseudonyms, identities.len()) {
            (_, 0) => "no certificate identity".to_owned(),
            (Some(_), 1) => "another certificate identity".to_owned(),
            (Some(_), n) => format!("{n} other certificate identities"),
            (None, _) => identities
                .iter()
                .map(|s| crate::text::printable(s).into_owned())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::class::{Outcome, Who, flag_copies};

    fn map() -> RevealMap {
        RevealMap::parse(
            &serde_json::json!({
                "schema_version": 1,
                "about": "test",
                "key": "00".repeat(32),
                "learners": {},
                "files": {},
            })
            .to_string(),
        )
        .unwrap()
    }

    fn graded(learner: &str, key: &str) -> Submission {
        let mut s = Submission::rejected(&format!("class/{learner}.tar.gz"), String::new());
        s.outcome = Outcome::Graded;
        s.rejected = None;
        s.learner = Some(learner.into());
        s.who = Who {
            name: Some(format!("{learner} Lastname")),
            section: Some("A1".into()),
            email: Some(format!("{learner}@example.edu")),
            canvas_id: Some("4711".into()),
            sis_user_id: Some(format!("sis-{learner}")),
        };
        s.fingerprints.public_key = Some(key.into());
        s
    }

    #[test]
    fn a_pseudonym_is_keyed_stable_and_not_a_plain_hash_of_the_id() {
        let one = Pseudonyms::new(&map());
        let again = Pseudonyms::new(&map());
        let ada = one.learner("ada");
        assert_eq!(
            ada,
            again.learner("ada"),
            "the same key, the same pseudonym"
        );
        assert!(
            ada.starts_with("learner-") && ada.len() == "learner-".len() + DIGITS,
            "{ada}"
        );
        assert_ne!(ada, one.learner("bob"));
        let other = Pseudonyms::new(&RevealMap::fresh().unwrap());
        assert_ne!(ada, other.learner("ada"), "another key, another pseudonym");
        // What an attacker with the roster would try: the id's plain SHA-256.
        let plain = crate::supply::Digest::sha256_of(b"ada").to_string();
        assert!(!plain.contains(&ada["learner-".len()..]), "{plain} {ada}");
        assert_eq!(
            one.file("class/ada.tar.gz"),
            one.file("./elsewhere/ada.tar.gz"),
            "a file's pseudonym is its name's"
        );
    }

    #[test]
    fn every_identity_is_replaced_and_copy_flags_name_the_other_by_pseudonym() {
        let pseudonyms = Pseudonyms::new(&map());
        let mut class = vec![
            graded("ada", "k1"),
            graded("bob", "k1"),
            Submission::rejected(
                "class/carol-final.tar.gz",
                "class/carol-final.tar.gz is larger than 64 MiB".into(),
            ),
            Submission::missing(
                "dee",
                Who {
                    name: Some("Dee Dee".into()),
                    section: None,
                    email: Some("dee@example.edu".into()),
                    ..Who::default()
                },
            ),
        ];
        pseudonyms.anonymize(&mut class);
        flag_copies(&mut class);
        let (ada, bob) = (pseudonyms.learner("ada"), pseudonyms.learner("bob"));
        assert_eq!(class[0].learner.as_deref(), Some(ada.as_str()));
        assert_eq!(class[0].who.name.as_deref(), Some(ada.as_str()));
        assert_eq!(class[0].who.email, None);
        assert_eq!(class[0].who.section.as_deref(), Some("A1"));
        let bob_file = pseudonyms.file("bob.tar.gz");
        assert_eq!(
            class[0].flags,
            [format!("copy: the same public key as {bob} ({bob_file})")]
        );
        let text = serde_json::to_string(&class).unwrap();
        for secret in ["ada", "bob", "carol", "dee", "Dee", "example.edu"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        let mut revealed = RevealMap::fresh().unwrap();
        revealed.key = map().key;
        revealed.merge(&pseudonyms).unwrap();
        assert_eq!(
            revealed.learners[&ada].email.as_deref(),
            Some("ada@example.edu")
        );
        let dee = &revealed.learners[&pseudonyms.learner("dee")];
        assert_eq!(
            (dee.id.as_str(), dee.name.as_deref()),
            ("dee", Some("Dee Dee"))
        );
        assert_eq!(
            revealed.files[&pseudonyms.file("carol-final.tar.gz")],
            BTreeSet::from(["class/carol-final.tar.gz".to_owned()])
        );
        assert_eq!(RevealMap::parse(&revealed.to_json()).unwrap(), revealed);
    }

    #[test]
    fn a_pseudonym_that_stands_for_another_id_is_refused_and_a_bad_map_is_named() {
        let pseudonyms = Pseudonyms::new(&map());
        let ada = pseudonyms.learner("ada");
        let mut revealed = map();
        revealed.learners.insert(
            ada.clone(),
            Revealed {
                id: "mallory".into(),
                ..Revealed::default()
            },
        );
        let err = revealed.merge(&pseudonyms).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{ada} stands for two learners")),
            "{err}"
        );
        let err = RevealMap::parse("{\"key\": \"00\"}")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("not a reveal map lab grade wrote"), "{err}");
    }

    #[test]
    fn anonymous_messages_drop_the_roster_line_and_the_signing_identities() {
        let pseudonyms = Pseudonyms::new(&map());
        let named = Naming::new(Some(&pseudonyms));
        let plain = Naming::default();
        assert_eq!(plain.roster_line("class.csv", 3), "class.csv:3");
        assert_eq!(named.roster_line("class.csv", 3), "class.csv");
        let signers = ["ada@example.edu".to_owned()];
        assert_eq!(plain.identities(&signers), "ada@example.edu");
        assert_eq!(named.identities(&signers), "another certificate identity");
        assert_eq!(named.learner("ada"), pseudonyms.learner("ada"));
        assert_eq!(plain.learner("a\u{1b}b"), "a\\u{1b}b");
    }
}
