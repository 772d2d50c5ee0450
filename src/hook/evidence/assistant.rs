//! The assistant's final message of a task: does it admit failure, or claim
//! the work is done? Claims are weak evidence (a model that failed silently
//! also says "done"); admissions are strong.

use std::sync::OnceLock;

use regex::Regex;

/// What the final message says about the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// It says it could not do it, or that something still fails.
    Failure,
    /// It says the work is done and works.
    Success,
}

/// Admissions: first person inability, things still broken, giving up.
const ADMIT: &[&str] = &[
    r"\bi (?:could ?n[o']?t|was ?n[o']?t able to|was unable to|am unable to|can ?n[o']?t|cannot|did ?n[o']?t manage to|have ?n[o']?t been able to|haven't been able to|failed to)\b",
    r"\bi'm (?:unable|not able) to\b",
    r"\b(?:tests?|build|it|the (?:fix|change|issue|bug|error|problem)|compilation|ci|the suite)\s+(?:is |are )?still\s+(?:fail|broken|not|erroring|crash|red|has)",
    r"\bstill (?:fails?|failing|broken|not (?:working|passing|fixed|compiling))\b",
    r"\b(?:tests?|build|checks?) (?:are|is) (?:still )?(?:failing|broken|red)\b",
    r"\b(?:was|were) not able to (?:fix|resolve|get|reproduce|find)",
    r"\bunable to (?:fix|resolve|get (?:it|this|the)|make (?:it|the)|reproduce|determine|complete|finish)",
    r"\b(?:my|the|this) (?:fix|change|patch|attempt|approach) (?:did ?n[o']?t|does ?n[o']?t|has ?n[o']?t) (?:fix|resolve|solve|work|help)",
    r"\b(?:is|are|it's|they're) (?:still )?not (?:yet )?(?:working|passing|resolved|fixed)\b",
    r"\bnot yet (?:working|passing|resolved|fixed)\b",
    r"\bi(?:'ve| have)? (?:got|gotten|been) stuck\b|\bi'm stuck\b|\bgave up\b|\bgive up\b",
    r"\b(?:remains?|remaining) (?:failing|broken|unresolved)\b",
    r"\b(?:blocked|blocker) (?:by|on)\b",
    r"\bwithout (?:more|further) (?:information|access|details)\b",
    r"\b(?:need|needs) (?:your|more) (?:help|input|information)\b",
    r"\bcould not be (?:fixed|resolved|completed)\b",
    r"\bpartially (?:fixed|working|implemented|done)\b",
];

/// Completion claims.
const CLAIM: &[&str] = &[
    r"\ball (?:\d+ )?(?:tests?|checks?|specs?)(?: now)? (?:pass|passing|passed|green|succeed)",
    r"\b(?:tests?|build|checks?|suite) (?:now )?(?:pass(?:es|ing)?|succeeds?|is green|are green|compiles?)\b",
    r"\b(?:is|are) now (?:working|passing|fixed|green|correct)\b",
    r"\b(?:successfully|done|completed?|finished|implemented|fixed|resolved|working)\b",
    r"✅|✓",
];

fn set(list: &'static [&'static str], cell: &'static OnceLock<Vec<Regex>>) -> &'static [Regex] {
    cell.get_or_init(|| {
        list.iter()
            .map(|p| Regex::new(&format!("(?i){p}")).expect("assistant pattern"))
            .collect()
    })
}

/// Classifies the final message (its last 4 KB: the verdict is at the end).
pub fn classify(message: &str) -> Option<(Claim, String)> {
    static A: OnceLock<Vec<Regex>> = OnceLock::new();
    static C: OnceLock<Vec<Regex>> = OnceLock::new();
    let text = tail(message, 4096).replace(['’', '‘'], "'");
    for re in set(ADMIT, &A) {
        for m in re.find_iter(&text) {
            if excuse(&text, m.end()) {
                continue;
            }
            return Some((Claim::Failure, snippet(&text, m.start(), m.end())));
        }
    }
    for re in set(CLAIM, &C) {
        if let Some(m) = re.find(&text) {
            return Some((Claim::Success, snippet(&text, m.start(), m.end())));
        }
    }
    None
}

/// An admission that is not one: "I couldn't find any other callers",
/// "I wasn't able to run the e2e suite, but the unit tests pass". What
/// could not be done is looking for more, or verifying beyond what was
/// verified; or the sentence goes on with "but".
fn excuse(text: &str, at: usize) -> bool {
    let end = text[at..]
        .find(['.', '!', '?', '\n', ';'])
        .map_or(text.len(), |i| at + i);
    let rest = text[at..end].to_ascii_lowercase();
    let rest = rest.trim_start();
    rest.contains(" but ")
        || rest.contains(", but")
        || [
            "find any",
            "find other",
            "find more",
            "find a ",
            "find another",
            "spot any",
            "run the e2e",
            "run the integration",
            "run the full",
            "run the browser",
            "run the ui",
            "test it in a browser",
            "test it manually",
            "verify it manually",
            "see any other",
            "locate any",
        ]
        .iter()
        .any(|p| rest.starts_with(p))
}

fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut i = s.len() - max;
    while !s.is_char_boundary(i) {
        i += 1;
    }
    &s[i..]
}

/// Up to 60 characters around a match.
pub(super) fn snippet(text: &str, start: usize, end: usize) -> String {
    let mut a = start.saturating_sub(20);
    while !text.is_char_boundary(a) {
        a -= 1;
    }
    let mut b = (end + 20).min(text.len());
    while !text.is_char_boundary(b) {
        b += 1;
    }
    text[a..b].split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admissions_claims_and_neither() {
        for m in [
            "I couldn't get the integration test to pass; the mock server times out.",
            "The build is still failing on the linker step.",
            "Unfortunately the flaky test remains failing.",
            "I wasn't able to reproduce the crash locally.",
        ] {
            assert_eq!(classify(m).map(|c| c.0), Some(Claim::Failure), "{m}");
        }
        for m in [
            "All 42 tests pass now.",
            "Done! The endpoint is implemented and the suite is green.",
            "Fixed the off-by-one in the pager.",
        ] {
            assert_eq!(classify(m).map(|c| c.0), Some(Claim::Success), "{m}");
        }
        assert_eq!(classify("Here is the file you asked about."), None);
        for m in [
            "Done. I couldn't find any other callers, so only one file changed.",
            "I wasn't able to run the e2e suite (no browser here), but the unit tests pass.",
        ] {
            assert_ne!(classify(m).map(|c| c.0), Some(Claim::Failure), "{m}");
        }
    }
}
