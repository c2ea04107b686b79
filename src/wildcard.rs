//! Kyverno's wildcard patterns (`ext/wildcard/match.go`, wrapping IGLOU-EU/go-wildcard v1.0.3):
//! the whole string must match, case-sensitively; `*` matches any run of characters (including
//! `/`, `:` and `@`) and `?` exactly one character. There are no character classes.

/// Whether `text` matches `pattern` under Kyverno's wildcard rules.
pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Position after the last `*` and the text position it was tried at, for backtracking.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi + 1, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((after_star, tried)) => {
                    pi = after_star;
                    ti = tried + 1;
                    star = Some((after_star, tried + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn star_crosses_separators_and_the_whole_string_must_match() {
        assert!(matches("ghcr.io/org/*", "ghcr.io/org/app@sha256:abc"));
        assert!(matches("*", ""));
        assert!(matches("ghcr.io/*/app:*", "ghcr.io/a/b/app:v1"));
        assert!(!matches("ghcr.io/org/*", "docker.io/ghcr.io/org/x"));
        assert!(!matches("ghcr.io/org", "ghcr.io/org/app"));
    }

    #[test]
    fn question_mark_is_exactly_one_character_and_case_matters() {
        assert!(matches("app:v?", "app:v1"));
        assert!(!matches("app:v?", "app:v10"));
        assert!(!matches("App:*", "app:v1"));
    }

    // The chapter's pitfall: a pattern with `:*` never matches the digest form Kyverno uses.
    #[test]
    fn tag_patterns_do_not_match_digest_form() {
        assert!(matches("reg/app:*", "reg/app:v1"));
        assert!(!matches("reg/app:*", "reg/app@sha256:00"));
        assert!(matches("reg/app*", "reg/app@sha256:00"));
    }
}
