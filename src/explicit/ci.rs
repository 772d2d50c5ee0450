//! `modelfit ci`: a pipeline's result, recorded against the tasks that
//! produced the commit it ran on.
//!
//! Linking: by task id (`--task`), else by commit. The Stop hook records the
//! workspace's HEAD as `git_commit` (full SHA) when a task ends; a pipeline on
//! that commit rates every task whose `git_commit` is that commit. A commit
//! may be given in full or as a prefix of at least 7 hex digits that names a
//! single commit among the recorded ones.
//!
//! Written on each linked record: `ci_status` (`success`, `failure`,
//! `cancelled`), `ci_pipeline` (URL, when known), `ci_commit` (when known),
//! `ci_updated_at`; and for success / failure the outcome through
//! [`crate::outcome::apply`] with `outcome_source: "ci"`. A cancelled pipeline
//! says nothing about the task: it records `ci_status` only. When a person's
//! verdict stands, the CI verdict is kept in `outcome_sources.ci` and the
//! person's `outcome` is left alone.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::home::Home;
use crate::outcome::{Change, Outcome, Source, Verdict};
use crate::record::Record;
use crate::store::Ledger;

/// A pipeline's final state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiStatus {
    /// Passed.
    Success,
    /// Failed.
    Failure,
    /// Cancelled: no verdict on the task.
    Cancelled,
}

impl CiStatus {
    /// Parses the spellings CI systems use: `success`/`passed`,
    /// `failure`/`failed`, `cancelled`/`canceled` (GitLab's
    /// `CI_JOB_STATUS` and GitHub's `job.status` included), any case.
    pub fn parse(text: &str) -> Result<CiStatus> {
        match text.trim().to_ascii_lowercase().as_str() {
            "success" | "succeeded" | "passed" | "pass" => Ok(CiStatus::Success),
            "failure" | "failed" | "fail" => Ok(CiStatus::Failure),
            "cancelled" | "canceled" | "aborted" => Ok(CiStatus::Cancelled),
            _ => Err(Error::Invalid(format!(
                "unknown CI status {text:?}: use success, failure or cancelled"
            ))),
        }
    }

    /// The `ci_status` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CiStatus::Success => "success",
            CiStatus::Failure => "failure",
            CiStatus::Cancelled => "cancelled",
        }
    }

    /// The task outcome this status implies, if any.
    pub fn outcome(self) -> Option<Outcome> {
        match self {
            CiStatus::Success => Some(Outcome::Success),
            CiStatus::Failure => Some(Outcome::Failure),
            CiStatus::Cancelled => None,
        }
    }
}

/// What the CI environment says, where it says it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CiEnv {
    /// `github`, `gitlab`, `jenkins`, `buildkite`, `circleci`, `generic`, or
    /// `None` outside CI.
    pub provider: Option<&'static str>,
    /// The commit the pipeline ran on.
    pub commit: Option<String>,
    /// A link to the pipeline run.
    pub pipeline: Option<String>,
    /// The status, where the provider exposes it (GitLab's `CI_JOB_STATUS`
    /// in `after_script`); GitHub Actions has none (pass `--status ${{ job.status }}`).
    pub status: Option<String>,
}

/// Reads the standard CI variables through `var` (the process environment in
/// the binary, a map in tests). The first provider whose marker is set wins.
pub fn detect(var: &dyn Fn(&str) -> Option<String>) -> CiEnv {
    let get = |k: &str| {
        var(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let truthy = |k: &str| {
        get(k).is_some_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "0" | "false" | "no"))
    };
    let first = |keys: &[&str]| keys.iter().find_map(|k| get(k));
    if truthy("GITHUB_ACTIONS") {
        let pipeline = match (
            get("GITHUB_SERVER_URL"),
            get("GITHUB_REPOSITORY"),
            get("GITHUB_RUN_ID"),
        ) {
            (Some(s), Some(r), Some(id)) => {
                let mut url = format!("{}/{r}/actions/runs/{id}", s.trim_end_matches('/'));
                if let Some(a) = get("GITHUB_RUN_ATTEMPT").filter(|a| a != "1") {
                    url.push_str(&format!("/attempts/{a}"));
                }
                Some(url)
            }
            _ => None,
        };
        return CiEnv {
            provider: Some("github"),
            commit: get("GITHUB_SHA"),
            pipeline,
            status: None,
        };
    }
    if truthy("GITLAB_CI") {
        return CiEnv {
            provider: Some("gitlab"),
            commit: get("CI_COMMIT_SHA"),
            pipeline: first(&["CI_PIPELINE_URL", "CI_JOB_URL"]),
            status: get("CI_JOB_STATUS"),
        };
    }
    if truthy("BUILDKITE") {
        return CiEnv {
            provider: Some("buildkite"),
            commit: get("BUILDKITE_COMMIT"),
            pipeline: get("BUILDKITE_BUILD_URL"),
            status: None,
        };
    }
    if truthy("CIRCLECI") {
        return CiEnv {
            provider: Some("circleci"),
            commit: get("CIRCLE_SHA1"),
            pipeline: get("CIRCLE_BUILD_URL"),
            status: None,
        };
    }
    if get("JENKINS_URL").is_some() || get("JENKINS_HOME").is_some() {
        return CiEnv {
            provider: Some("jenkins"),
            commit: get("GIT_COMMIT"),
            pipeline: get("BUILD_URL"),
            status: None,
        };
    }
    if truthy("CI") {
        return CiEnv {
            provider: Some("generic"),
            commit: first(&["CI_COMMIT_SHA", "GIT_COMMIT", "CI_COMMIT", "COMMIT_SHA"]),
            pipeline: first(&["CI_PIPELINE_URL", "BUILD_URL", "CI_BUILD_URL"]),
            status: first(&["CI_JOB_STATUS", "CI_STATUS"]),
        };
    }
    CiEnv::default()
}

/// Which tasks a pipeline speaks about.
#[derive(Debug, Clone)]
pub enum Link {
    /// These record ids.
    Tasks(Vec<String>),
    /// Every task whose `git_commit` is this commit (full SHA or a unique
    /// prefix of at least 7 hex digits).
    Commit(String),
}

/// The report of one `ci` run.
#[derive(Debug, Default)]
pub struct CiReport {
    /// The full commit the tasks were matched on, when linked by commit.
    pub commit: Option<String>,
    /// Each task changed, with what changed.
    pub tasks: Vec<(String, Change)>,
    /// Task ids asked for with `--task` that are not in the ledger.
    pub missing: Vec<String>,
}

/// Validates a commit given on the command line or by the environment.
pub fn normalize_commit(sha: &str) -> Result<String> {
    let s = sha.trim().to_ascii_lowercase();
    if s.len() < 7 || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::Invalid(format!(
            "{sha:?} is not a commit: give the full SHA or at least its first 7 hex digits"
        )));
    }
    Ok(s)
}

/// Records `status` (and `pipeline`, `commit` when known) on the tasks
/// `link` names, in one rewrite of the ledger. Finding no task is not an
/// error here: the report says so and the caller decides.
pub fn record(
    home: &Home,
    link: &Link,
    status: CiStatus,
    pipeline: Option<&str>,
    commit: Option<&str>,
    now: &str,
) -> Result<CiReport> {
    if let Some(p) = pipeline {
        if p.chars().count() > 2048 || p.chars().any(char::is_control) {
            return Err(Error::Invalid(
                "the pipeline link must be one line of at most 2048 characters".into(),
            ));
        }
    }
    let ledger = Ledger::of(home);
    let mut report = CiReport::default();
    let full = match link {
        Link::Commit(prefix) => {
            let prefix = normalize_commit(prefix)?;
            if prefix.len() == 40 || prefix.len() == 64 {
                // A full SHA-1 / SHA-256 names itself: no resolving pass.
                Some(prefix)
            } else {
                match resolve_commit(home, &prefix)? {
                    Some(c) => Some(c),
                    None => return Ok(report),
                }
            }
        }
        Link::Tasks(_) => commit.map(normalize_commit).transpose()?,
    };
    report.commit = full.clone();

    let verdict = status.outcome().map(|o| {
        let mut v = Verdict::new(o, Source::Ci);
        v.extra = extras(status, pipeline, full.as_deref(), now);
        v
    });
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let select = |r: &Record| -> bool {
        match link {
            Link::Tasks(ids) => ids.iter().any(|id| has_id(r, id)),
            Link::Commit(_) => {
                r.get("type").and_then(Value::as_str) != Some("batch")
                    && r.get("git_commit")
                        .and_then(Value::as_str)
                        .is_some_and(|c| Some(c.to_ascii_lowercase()) == full)
            }
        }
    };
    let mut changes: Vec<(String, Change)> = Vec::new();
    // Only records whose text holds the commit (or one of the ids) are parsed.
    let needles: Option<Vec<Vec<u8>>> = match link {
        Link::Tasks(ids) => ids.iter().map(|i| crate::store::raw_needle(i)).collect(),
        Link::Commit(_) => full
            .as_deref()
            .and_then(crate::store::raw_needle)
            .map(|n| vec![n]),
    };
    let prefilter = |raw: &[u8]| match &needles {
        // Commits may be stored in upper case by another writer: compare case-insensitively.
        Some(ns) => ns.iter().any(|n| contains_ignore_case(raw, n)),
        None => true,
    };
    ledger.update_where_prefiltered(
        prefilter,
        select,
        |r| {
            let id = r
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("(record without id)")
                .to_string();
            if let Link::Tasks(ids) = link {
                for want in ids {
                    if has_id(r, want) {
                        seen.insert(want.clone());
                    }
                }
            }
            let change = match &verdict {
                Some(v) => crate::outcome::apply(r, v, now),
                None => set_fields(r, &extras(status, pipeline, full.as_deref(), now)),
            };
            let changed = !change.fields.is_empty();
            changes.push((id, change));
            Ok(changed)
        },
        false,
    )?;
    if let Link::Tasks(ids) = link {
        report.missing = ids.iter().filter(|i| !seen.contains(*i)).cloned().collect();
    }
    // update_where re-runs the edits when another writer changed the file
    // meanwhile: keep the last run's change per record.
    let mut last: Vec<(String, Change)> = Vec::new();
    for (id, change) in changes.into_iter().rev() {
        if !last.iter().any(|(i, _)| *i == id) {
            last.push((id, change));
        }
    }
    last.reverse();
    report.tasks = last;
    Ok(report)
}

fn extras(
    status: CiStatus,
    pipeline: Option<&str>,
    commit: Option<&str>,
    now: &str,
) -> Vec<(String, Value)> {
    let mut out = vec![("ci_status".to_string(), json!(status.as_str()))];
    if let Some(p) = pipeline {
        out.push(("ci_pipeline".into(), json!(p)));
    }
    if let Some(c) = commit {
        out.push(("ci_commit".into(), json!(c)));
    }
    out.push(("ci_updated_at".into(), json!(now)));
    out
}

/// Sets fields without a verdict (a cancelled pipeline), reporting the change.
fn set_fields(r: &mut Record, fields: &[(String, Value)]) -> Change {
    let mut change = Change::default();
    for (k, v) in fields {
        let before = r.get(k).cloned();
        if before.as_ref() != Some(v) {
            change.fields.push((k.clone(), before, v.clone()));
            r.insert(k.clone(), v.clone());
        }
    }
    change
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    if needle.iter().any(u8::is_ascii_alphabetic) {
        hay.windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    } else {
        crate::store::contains(hay, needle)
    }
}

fn has_id(r: &Record, id: &str) -> bool {
    ["id", "dispatch_id"]
        .iter()
        .any(|k| r.get(*k).and_then(Value::as_str) == Some(id))
}

/// The one recorded commit starting with `prefix`; an error naming the
/// candidates when several do.
fn resolve_commit(home: &Home, prefix: &str) -> Result<Option<String>> {
    #[derive(serde::Deserialize)]
    struct C {
        #[serde(default)]
        git_commit: Value,
    }
    let mut found: BTreeSet<String> = BTreeSet::new();
    super::scan(home, |r: C| {
        if let Value::String(c) = r.git_commit {
            let c = c.to_ascii_lowercase();
            if c.starts_with(prefix) {
                found.insert(c);
            }
        }
        true
    })?;
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.into_iter().next()),
        _ => Err(Error::Invalid(format!(
            "commit prefix {prefix} is ambiguous: tasks were recorded on {}; give more digits",
            found.into_iter().collect::<Vec<_>>().join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> CiEnv {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        detect(&|k| m.get(k).cloned())
    }

    #[test]
    fn statuses() {
        assert_eq!(CiStatus::parse("SUCCESS").unwrap(), CiStatus::Success);
        assert_eq!(CiStatus::parse("failed").unwrap(), CiStatus::Failure);
        assert_eq!(CiStatus::parse("canceled").unwrap(), CiStatus::Cancelled);
        assert!(CiStatus::parse("skipped").is_err());
    }

    #[test]
    fn providers() {
        assert_eq!(env(&[]), CiEnv::default());
        let g = env(&[
            ("GITHUB_ACTIONS", "true"),
            ("CI", "true"),
            ("GITHUB_SHA", "abc1234"),
            ("GITHUB_SERVER_URL", "https://github.com/"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_RUN_ATTEMPT", "2"),
        ]);
        assert_eq!(g.provider, Some("github"));
        assert_eq!(
            g.pipeline.as_deref(),
            Some("https://github.com/o/r/actions/runs/42/attempts/2")
        );
        assert_eq!(g.status, None);
        let l = env(&[
            ("GITLAB_CI", "true"),
            ("CI_JOB_STATUS", "failed"),
            ("CI_COMMIT_SHA", "d"),
        ]);
        assert_eq!(
            (l.provider, l.status.as_deref()),
            (Some("gitlab"), Some("failed"))
        );
        assert_eq!(env(&[("CI", "false"), ("GIT_COMMIT", "x")]).provider, None);
        assert_eq!(
            env(&[("JENKINS_URL", "http://j/"), ("GIT_COMMIT", "x")])
                .commit
                .as_deref(),
            Some("x")
        );
    }

    #[test]
    fn commits() {
        assert!(normalize_commit("abc123").is_err());
        assert!(normalize_commit("abc123z").is_err());
        assert_eq!(normalize_commit(" ABCDEF1 ").unwrap(), "abcdef1");
    }
}
