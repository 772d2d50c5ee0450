//! Redaction of secrets and e-mail addresses before text is written.
//!
//! Prompts and notes end up in the orchestrator's ledger, which several
//! programs read and which may be shared. Every known credential shape is
//! replaced by `[REDACTED]`; for `key=value` forms the key stays, so the text
//! still reads (`password=[REDACTED]`). The rules aim at real-shaped secrets
//! and leave their innocent look-alikes alone (git SHAs, UUIDs, base64 data,
//! `sk-learn`, "password" as a word, URLs without credentials, `icon@2x.png`,
//! `git@github.com:…`); `tests/fixtures/redaction/corpus.txt` shows both sides.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// What replaces a secret.
pub const MARK: &str = "[REDACTED]";

/// How a matched span is rewritten.
enum Rewrite {
    /// The whole match becomes [`MARK`].
    Whole,
    /// Keep capture group 1, replace the rest with [`MARK`].
    KeepPrefix,
    /// `scheme://user:pass@`: keep the scheme and the `@`.
    UrlCredentials,
    /// Whole match, but only if the key body (group 1) looks random.
    WholeIfRandom,
    /// `key: value` / `key=value`: keep group 1 (key and separator), replace
    /// the value (group 2) when it looks like a secret rather than prose.
    Assignment,
    /// E-mail address, unless it is a look-alike (`git@host`, `icon@2x.png`).
    Email,
}

/// The rules, applied in order. Compiled once, on first use (the hook only
/// pays for them when it has text to redact).
static RULES: LazyLock<Vec<(Regex, Rewrite)>> = LazyLock::new(|| {
    let rules: [(&str, Rewrite); 14] = [
        // PEM private key blocks (RSA, EC, OPENSSH, ENCRYPTED, plain). A block
        // cut short (truncated text) is redacted to the end.
        (
            r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|\z)",
            Rewrite::Whole,
        ),
        // Credentials inside URLs: scheme://user:password@host.
        (
            r"\b([A-Za-z][A-Za-z0-9+.-]{1,20}://)[^\s:/?#@]+:[^\s/?#@]+@",
            Rewrite::UrlCredentials,
        ),
        // Slack incoming webhooks and workflow triggers.
        (
            r"https://hooks\.slack(?:-gov)?\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+",
            Rewrite::Whole,
        ),
        // Anthropic (sk-ant-api03-…, sk-ant-admin01-…, sk-ant-oat01-…).
        (r"\bsk-ant-[A-Za-z0-9_-]{20,}", Rewrite::Whole),
        // OpenAI (sk-…, sk-proj-…, sk-svcacct-…, sk-admin-…): body must look
        // random, so kebab-case words such as sk-learn-compatible-wrapper stay.
        (
            r"\bsk-((?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,})",
            Rewrite::WholeIfRandom,
        ),
        // GitHub classic tokens and fine-grained PATs.
        (r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b", Rewrite::Whole),
        (r"\bgithub_pat_[A-Za-z0-9_]{40,255}\b", Rewrite::Whole),
        // AWS access key ids.
        (
            r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b",
            Rewrite::Whole,
        ),
        // Slack tokens (bot, user, app-level, config).
        (
            r"\b(?:xox[abposre]-[0-9A-Za-z-]{10,}|xapp-[0-9]-[A-Za-z0-9-]{10,})",
            Rewrite::Whole,
        ),
        // Other widespread vendor tokens with unambiguous prefixes.
        (
            r"\b(?:AIza[0-9A-Za-z_-]{35}|(?:sk|rk)_live_[0-9A-Za-z]{20,}|npm_[A-Za-z0-9]{36}|hf_[A-Za-z]{34}|glpat-[A-Za-z0-9_-]{20})\b",
            Rewrite::Whole,
        ),
        // JSON Web Tokens: three base64url parts, the first two JSON objects.
        (
            r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
            Rewrite::Whole,
        ),
        // Bearer / Basic authorization values.
        (
            r"(?i)(\b(?:bearer|authorization:\s*basic)\s+)[A-Za-z0-9._~+/-]{16,}=*",
            Rewrite::KeepPrefix,
        ),
        // key=value, key: value, "key": "value", for secret-ish key names
        // (password, passwd, secret, token, api_key, access key, AWS secret
        // access key, client secret, private key, …) as the end of an
        // identifier, so db_password= matches and password_reset_url= does not.
        (
            r#"(?i)(\b[A-Za-z0-9_.-]*(?:passwd|password|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?)["']?\s*[:=]\s*)("[^"\n]*"|'[^'\n]*'|[^\s,;&"'}\])]+)"#,
            Rewrite::Assignment,
        ),
        // E-mail addresses.
        (
            r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b",
            Rewrite::Email,
        ),
    ];
    rules
        .into_iter()
        .map(|(re, rw)| (Regex::new(re).expect("valid redaction regex"), rw))
        .collect()
});

/// Replaces secrets and e-mail addresses in `text` with `[REDACTED]`.
pub fn redact(text: &str) -> String {
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    for (re, rewrite) in RULES.iter() {
        if let Cow::Owned(s) = re.replace_all(&out, |c: &Captures<'_>| rewrite_one(rewrite, c)) {
            out = Cow::Owned(s);
        }
    }
    out.into_owned()
}

fn rewrite_one(rewrite: &Rewrite, c: &Captures<'_>) -> String {
    let whole = &c[0];
    match rewrite {
        Rewrite::Whole => MARK.to_string(),
        Rewrite::KeepPrefix => format!("{}{MARK}", &c[1]),
        Rewrite::UrlCredentials => format!("{}{MARK}@", &c[1]),
        Rewrite::WholeIfRandom => {
            if looks_random(&c[1]) {
                MARK.to_string()
            } else {
                whole.to_string()
            }
        }
        Rewrite::Assignment => {
            let key = &c[1];
            let value = &c[2];
            let quoted = value.starts_with('"') || value.starts_with('\'');
            let inner = value.trim_matches(|ch| ch == '"' || ch == '\'');
            let colon = key.trim_end().ends_with(':');
            let already = inner.is_empty() || inner == MARK || inner.starts_with("[REDACTED");
            // `password: the form is broken` is prose; `password: hunter2`,
            // `password = abc` and `"password": "x"` are assignments.
            let secretish = quoted || !colon || inner.chars().any(|ch| !ch.is_alphabetic());
            if already || !secretish || is_placeholder(inner) {
                whole.to_string()
            } else if quoted {
                let q = &value[..1];
                format!("{key}{q}{MARK}{q}")
            } else {
                format!("{key}{MARK}")
            }
        }
        Rewrite::Email => {
            let (local, domain) = whole.split_once('@').unwrap_or((whole, ""));
            let tld = domain.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
            let file_like = matches!(
                tld.as_str(),
                "png" | "jpg" | "jpeg" | "gif" | "svg" | "webp" | "ico" | "avif"
            );
            if local == "git" || file_like {
                whole.to_string()
            } else {
                MARK.to_string()
            }
        }
    }
}

/// A key body that has both letters and digits, as generated keys do, unlike
/// kebab-case words.
fn looks_random(body: &str) -> bool {
    let digits = body.chars().filter(char::is_ascii_digit).count();
    let letters = body.chars().filter(char::is_ascii_alphabetic).count();
    digits >= 2 && letters >= 4
}

/// Values that are obviously not secrets: references to variables and
/// template placeholders (`$TOKEN`, `${SECRET}`, `<token>`, `{{ token }}`,
/// `process.env.X`, `os.environ[...]`).
fn is_placeholder(v: &str) -> bool {
    v.starts_with('$')
        || v.starts_with('<')
        || v.starts_with("{{")
        || v.starts_with("process.env")
        || v.starts_with("os.environ")
        || v.starts_with("env.")
        || v.eq_ignore_ascii_case("null")
        || v.eq_ignore_ascii_case("none")
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn keeps_keys_and_plain_text() {
        assert_eq!(redact("password=hunter2 ok"), "password=[REDACTED] ok");
        assert_eq!(
            redact(r#"{"api_key": "abc123def"}"#),
            r#"{"api_key": "[REDACTED]"}"#
        );
        assert_eq!(
            redact("reset the password: the link expired"),
            "reset the password: the link expired"
        );
        assert_eq!(redact("nothing here"), "nothing here");
        assert_eq!(
            redact("clone https://bob:s3cret@git.example.com/x.git"),
            "clone https://[REDACTED]@git.example.com/x.git"
        );
    }

    #[test]
    fn idempotent() {
        let once = redact("token=abc123 mail bob@example.org Bearer abcdefghijklmnopqrstu");
        assert_eq!(redact(&once), once);
        assert!(!once.contains("abc123"));
        assert!(!once.contains("bob@"));
    }
}
