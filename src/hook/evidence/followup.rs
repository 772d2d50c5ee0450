//! The person's next prompt in the same session, read as a verdict on the
//! task before it: an explicit rating, a correction or complaint, praise or
//! acceptance, or simply a new task. Local, deterministic, a few regexes.
//!
//! Precision matters more than recall: a new task that talks about errors
//! ("improve the error message when…", "no need to…") is not a complaint, so
//! complaints must point back at what was just done (`still`, `it`/`that`,
//! `again`, `you broke`, `revert`), and a rating must look like one.

use std::sync::OnceLock;

use regex::Regex;

/// What the next prompt says about the previous task.
#[derive(Debug, Clone, PartialEq)]
pub enum Followup {
    /// An explicit score (0–10) or thumbs: a person's verdict.
    Rating(f64),
    /// A correction or complaint: the previous task did not work.
    Correction(String),
    /// Thanks, works, looks good, commit it.
    Praise(String),
    /// Something else, e.g. a new task: weak evidence the last one was acceptable.
    NewTask,
}

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("followup pattern"))
}

/// A score out of ten at the start (`8/10`, `rating: 7`, `I'd give it a 6 out
/// of 10`, `9 / 10 nice`), or anywhere in a short message; thumbs.
fn rating(text: &str) -> Option<f64> {
    static LEAD: OnceLock<Regex> = OnceLock::new();
    static ANY: OnceLock<Regex> = OnceLock::new();
    static THUMBS: OnceLock<Regex> = OnceLock::new();
    let lead = re(
        &LEAD,
        r"(?i)^\W*(?:(?:my )?(?:rating|score|grade)\s*(?:is|:|=|-)?\s*|(?:i'?d |i would |i )?(?:give|rate) (?:it|this|that|you)(?: a| an)?\s*)?(10|[0-9](?:\.5)?)\s*(?:/|out of|of)\s*(?:10|ten)\b",
    );
    let any = re(
        &ANY,
        r"(?i)(?:^|[\s(:,-])(10|[0-9](?:\.5)?)\s*(?:/|out of)\s*(?:10|ten)\b",
    );
    if let Some(c) = lead.captures(text) {
        return c[1].parse().ok();
    }
    let short = text.chars().count() <= 60 && !text.contains('`');
    if short {
        if let Some(c) = any.captures(text) {
            return c[1].parse().ok();
        }
    }
    let thumbs = re(
        &THUMBS,
        r"(?i)^\W*(?:(👍|:\+1:|:thumbsup:|thumbs? ?up)|(👎|:-1:|:thumbsdown:|thumbs? ?down))\W*(?:\s|$)",
    );
    if let Some(c) = thumbs.captures(text) {
        return Some(if c.get(1).is_some() { 9.0 } else { 2.0 });
    }
    if short && (text.contains('👍') || text.contains('👎')) {
        return Some(if text.contains('👍') { 9.0 } else { 2.0 });
    }
    None
}

/// Complaints about what was just done.
const CORRECT: &[&str] = &[
    // "no" / "nope" opening a reply, but not "no need", "no problem", "no worries", "no rush".
    r"^\W*(?:no|nope|nah)\b[\s,.!;:-]*",
    r"\bstill (?:not|broken|failing|fails|fail|crash(?:es|ing)?|erroring|errors|the same|getting|seeing|happening|there|doesn't|does not|wrong|red|hangs?|empty|missing|showing|returns?|throws?|\d+ (?:tests? )?fail)",
    r"\b(?:it|this|that|they|these|those|the (?:fix|change|tests?|build|page|app|button|endpoint|script|command|function|query))\s+(?:still\s+)?(?:does ?n[o']?t|did ?n[o']?t|is ?n[o']?t|are ?n[o']?t|wo ?n[o']?t|ca ?n[o']?t|does not|did not|is not|are not|will not|cannot)\s+(?:work|compile|build|run|pass|load|start|render|fix|help|change|do (?:anything|what))",
    r"\b(?:you|u|that|this|it|your (?:change|fix|patch|edit|commit))\s+(?:just\s+)?(?:broke|broken|has broken|have broken|messed up|made it worse|introduced)",
    r"\bmade (?:it|things|everything) worse\b|\bworse than before\b",
    r"^\W*(?:please\s+)?(?:revert|undo|roll ?back)(?:\s|$|[,.!])",
    r"\b(?:revert|undo|roll ?back) (?:that|this|it|your|the (?:last|previous)|everything|all)\b",
    r"\b(?:that'?s|this is|that is|it'?s|it is|this was|that was)\s+(?:still\s+|completely\s+|totally\s+|all\s+)?(?:wrong|incorrect|broken|not (?:right|correct|what i|it|working|fixed))",
    r"\bnot what i (?:asked|wanted|meant|said)\b",
    r"\b(?:same|identical) (?:error|problem|issue|failure|bug|result|output|exception|traceback)\b",
    r"\b(?:nothing|none of (?:it|that|this)) (?:changed|works?|worked|happened|helped)\b",
    r"\b(?:did ?n[o']?t|does ?n[o']?t|has ?n[o']?t) (?:fix|solve|resolve|change|help with) (?:it|anything|the|this|that)\b",
    r"\b(?:try|do it) again\b|\bone more time\b|\bstart over\b",
    r"^\W*(?:wrong|incorrect|broken|failed|fails|useless)\b",
    r"\b(?:tests?|build|ci|pipeline|checks?|lint(?:er)?) (?:is |are )?(?:still )?(?:failing|red|broken)\b(?: again| now)?",
    r"\b(?:now|again) (?:it |the \w+ )?(?:fails|crashes|errors|throws|breaks|hangs)\b",
    r"\byou (?:forgot|missed|ignored|skipped|did ?n[o']?t (?:do|add|fix|update|change|read|follow))\b",
    r"\bwhy did you\b|\bi (?:told|asked) you\b",
    r"\bdoes ?n[o']?t (?:work|compile|build|run)(?: at all| anymore)?\s*[.!?]*$",
];

/// Praise and acceptance.
const PRAISE: &[&str] = &[
    r"^\W*(?:thanks|thank you|thx|ty|cheers|perfect|great|awesome|excellent|amazing|brilliant|nice|sweet|cool|lgtm|works|working|good job|well done|nailed it|exactly|beautiful|love it|yes|yep|yay|fantastic|wonderful|ok(?:ay)?(?:,)? (?:great|good|thanks|perfect|cool))\b",
    r"\b(?:thanks|thank you|thx|much appreciated)\b",
    r"\b(?:that|it|this|everything) (?:works|worked|did it|did the trick|fixed it|is working|looks (?:good|great|right|correct))\b",
    r"\b(?:works|working) (?:now|perfectly|great|fine|like a charm)\b",
    r"\blooks (?:good|great|perfect|right)\b|\blgtm\b|\bship it\b",
    r"^\W*(?:now |ok(?:ay)?,? |great,? |good,? )?(?:please )?(?:commit|push|merge|deploy|release|open a pr|create a pr)\b",
    r"\b(?:good|great|nice|excellent|perfect) (?:job|work|catch|fix|stuff)\b",
    r"🎉|🙏|❤️|🚀|✅",
];

fn compiled(
    list: &'static [&'static str],
    cell: &'static OnceLock<Vec<Regex>>,
) -> &'static [Regex] {
    cell.get_or_init(|| {
        list.iter()
            .map(|p| Regex::new(&format!("(?i){p}")).expect("followup pattern"))
            .collect()
    })
}

/// Words that, right after a leading "no", make it a new request, not a
/// complaint ("no need to…", "no problem", "no rush").
fn benign_no(rest: &str) -> bool {
    let w: Vec<&str> = rest.split_whitespace().take(2).collect();
    matches!(
        w.first()
            .map(|s| s
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_ascii_lowercase())
            .as_deref(),
        Some(
            "need"
                | "problem"
                | "worries"
                | "rush"
                | "hurry"
                | "longer"
                | "more"
                | "other"
                | "one"
                | "matter"
                | "big"
                | "pressure"
                | "biggie"
                | "issue"
                | "issues"
                | "changes"
        )
    )
}

/// Classifies the next prompt. `previous` is the previous task's prompt: a
/// re-statement of it is a retry, i.e. a correction.
pub fn classify(prompt: &str, previous: &str) -> Followup {
    static C: OnceLock<Vec<Regex>> = OnceLock::new();
    static P: OnceLock<Vec<Regex>> = OnceLock::new();
    let text: String = prompt
        .chars()
        .take(2000)
        .collect::<String>()
        .replace(['’', '‘'], "'");
    let text = text.trim();
    if text.is_empty() {
        return Followup::NewTask;
    }
    if let Some(r) = rating(text) {
        return Followup::Rating(r);
    }
    // Only the opening of a long prompt speaks about the last result; the
    // rest is usually a new request.
    let head: String = first_sentences(text, 240);
    for (i, re) in compiled(CORRECT, &C).iter().enumerate() {
        if let Some(m) = re.find(&head) {
            if i == 0 && benign_no(&head[m.end()..]) {
                continue;
            }
            return Followup::Correction(super::assistant::snippet(&head, m.start(), m.end()));
        }
    }
    if previous.len() > 15 && crate::signals::retry::similar(text, previous) {
        return Followup::Correction("the same request again".into());
    }
    for re in compiled(PRAISE, &P) {
        if let Some(m) = re.find(&head) {
            return Followup::Praise(super::assistant::snippet(&head, m.start(), m.end()));
        }
    }
    Followup::NewTask
}

fn first_sentences(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings() {
        for (t, r) in [
            ("8/10", 8.0),
            ("rating: 3/10", 3.0),
            ("I'd give it a 7 out of 10", 7.0),
            ("10/10 thanks!", 10.0),
            ("👍", 9.0),
            ("thumbs down", 2.0),
            ("solid 9/10", 9.0),
        ] {
            assert_eq!(classify(t, ""), Followup::Rating(r), "{t}");
        }
        assert_eq!(
            classify("make the progress bar show 3/10 steps when the upload is at 30 percent of the total", ""),
            Followup::NewTask
        );
    }

    #[test]
    fn corrections_praise_and_look_alikes() {
        for t in [
            "no, that's wrong",
            "it still fails with the same error",
            "that doesn't work",
            "you broke the login page",
            "revert that",
            "still getting 500 on /users",
            "nope",
        ] {
            assert!(
                matches!(classify(t, "fix the login"), Followup::Correction(_)),
                "{t}"
            );
        }
        for t in [
            "thanks!",
            "perfect, commit it",
            "works now",
            "lgtm",
            "great job",
        ] {
            assert!(
                matches!(classify(t, "fix the login"), Followup::Praise(_)),
                "{t}"
            );
        }
        for t in [
            "improve the error message when the config file is missing",
            "no need to update the docs, just add the endpoint",
            "add a test for the failure case of parse_date",
            "handle the broken pipe error in the exporter",
            "now add pagination to the list endpoint",
            "why does the retry logic exist in the client?",
            "undo/redo support for the text editor",
        ] {
            assert_eq!(classify(t, "fix the login"), Followup::NewTask, "{t}");
        }
        assert!(matches!(
            classify("fix the login redirect loop", "Fix the login redirect loop"),
            Followup::Correction(_)
        ));
    }
}
