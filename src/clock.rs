//! Time as the orchestrator writes it: JavaScript `toISOString()` strings.

use chrono::{DateTime, SecondsFormat, Utc};

/// The current time. In the test build (cargo feature `testing`),
/// `MODELFIT_NOW` (an RFC 3339 timestamp) overrides the clock, so tests can
/// replay history deterministically; a released binary ignores it.
pub fn now() -> DateTime<Utc> {
    if !cfg!(feature = "testing") {
        return Utc::now();
    }
    if let Ok(text) = std::env::var("MODELFIT_NOW") {
        if let Some(t) = parse(&text) {
            return t;
        }
    }
    Utc::now()
}

/// Formats a time exactly like JavaScript's `Date.prototype.toISOString`:
/// UTC, milliseconds, `Z` (e.g. `2026-03-04T08:01:00.840Z`). Readers of the
/// ledger compare these strings lexically, so the format must not vary.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// [`iso`] of [`now`].
pub fn now_iso() -> String {
    iso(now())
}

/// Parses an RFC 3339 / ISO 8601 timestamp (or a bare `YYYY-MM-DD`, taken as
/// midnight UTC). Returns `None` for anything else.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_matches_javascript() {
        let t = parse("2026-03-04T08:01:00.84Z").unwrap();
        assert_eq!(iso(t), "2026-03-04T08:01:00.840Z");
        let t = parse("2026-03-04T09:01:00+01:00").unwrap();
        assert_eq!(iso(t), "2026-03-04T08:01:00.000Z");
        assert_eq!(
            iso(parse("2026-03-04").unwrap()),
            "2026-03-04T00:00:00.000Z"
        );
        assert!(parse("yesterday").is_none());
    }
}
