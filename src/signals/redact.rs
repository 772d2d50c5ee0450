//! Redaction of secrets and e-mail addresses before text is written.

use std::sync::LazyLock;

use regex::Regex;

static SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        sk-ant-[A-Za-z0-9_-]{20,}
      | sk-[A-Za-z0-9_-]{20,}
      | gh[pousr]_[A-Za-z0-9]{30,}
      | AKIA[0-9A-Z]{16}
      | [A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}
    ",
    )
    .expect("valid redaction regex")
});

/// Replaces secrets in `text` with `[REDACTED]`.
pub fn redact(text: &str) -> String {
    SECRET.replace_all(text, "[REDACTED]").into_owned()
}
