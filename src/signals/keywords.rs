//! Task keywords: the orchestrator's labels, matched as its dispatcher does
//! (whole words, case-insensitive, common inflections), so records modelfit
//! fills agree with records the dispatcher wrote.

use std::sync::LazyLock;

use regex::Regex;

/// The labels, in the order the dispatcher lists them (and so emits them).
pub const LABELS: [&str; 11] = [
    "architecture",
    "design",
    "refactor",
    "bug",
    "fix",
    "test",
    "docs",
    "api",
    "database",
    "performance",
    "security",
];

/// One alternation per label, same order as [`LABELS`]; `(?-u:\b)` keeps word
/// boundaries ASCII, which is all the labels need and cheaper to compile.
static PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"architectur(?:e|es|al|ally)",
        r"design(?:s|ed|ing|er|ers)?",
        r"refactor(?:s|ed|ing|ings)?",
        r"bugs?",
        r"fix(?:es|ed|ing)?",
        r"test(?:s|ed|ing)?",
        r"docs?|documentation",
        r"apis?",
        r"databases?",
        r"performance",
        r"security",
    ]
    .iter()
    .map(|alt| Regex::new(&format!(r"(?i)(?-u:\b)(?:{alt})(?-u:\b)")).expect("valid keyword regex"))
    .collect()
});

/// The labels found in `text`, deduplicated, in [`LABELS`] order. Callers pass
/// the raw task (`original_task`), not the context-padded `task`, whose
/// injected workspace notes would add labels the task never asked for.
pub fn keywords(text: &str) -> Vec<String> {
    LABELS
        .iter()
        .zip(PATTERNS.iter())
        .filter(|(_, re)| re.is_match(text))
        .map(|(label, _)| label.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::keywords;

    #[test]
    fn labels_inflections_and_order() {
        assert_eq!(keywords("Fixed the login BUG"), ["bug", "fix"]);
        assert_eq!(keywords("Refactoring the API layer"), ["refactor", "api"]);
        assert_eq!(keywords("Update documentation"), ["docs"]);
        assert_eq!(
            keywords("architectural review of the design"),
            ["architecture", "design"]
        );
        assert_eq!(keywords("Add tests, testing and more tests"), ["test"]);
    }

    #[test]
    fn whole_words_only() {
        assert!(keywords("Update README with setup steps").is_empty());
        assert!(keywords("docstring prefix redesign latest contest").is_empty());
        assert!(keywords("").is_empty());
    }
}
