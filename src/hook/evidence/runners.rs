//! Verification runs: which shell commands run tests, builds, type checks or
//! linters, and what their output says about the result.
//!
//! The exit code decides where Claude Code shows it (a failed Bash call's
//! result starts with `Exit code N`); a piped command's exit code is the
//! last stage's, so there the runner's own summary line decides. The
//! summary formats are the runners' public ones (reference note §1.2).

use std::sync::OnceLock;

use regex::Regex;

/// What a verification command checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Check {
    /// A test suite (`tests` source).
    Tests,
    /// A build, type check or linter (`verification` source).
    Build,
}

/// A recognised verification command: what it checks, the runner, and its
/// kind (the last run of each kind decides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runner {
    /// Tests or build/lint.
    pub check: Check,
    /// A short runner name, e.g. `cargo test`, `pytest`, `tsc`.
    pub name: String,
    /// `tests`, `lint`, `typecheck` or `build`: the last run of each kind
    /// decides (`npx jest` then `npm test` are one kind).
    pub kind: &'static str,
}

/// (pattern on one shell stage, check, runner name; `$1` is replaced by the
/// first capture). Order matters: the first match per stage wins.
const COMMANDS: &[(&str, Check, &str)] = &[
    (
        r"\bcargo\s+(?:\+\S+\s+)?(?:test|nextest)\b",
        Check::Tests,
        "cargo test",
    ),
    (r"\bcargo\s+(?:\+\S+\s+)?clippy\b", Check::Build, "clippy"),
    (
        r"\bcargo\s+(?:\+\S+\s+)?(?:build|check)\b",
        Check::Build,
        "cargo build",
    ),
    (r"\bgo\s+test\b", Check::Tests, "go test"),
    (r"\bgo\s+(?:build|vet)\b", Check::Build, "go build"),
    (r"\bgolangci-lint\b", Check::Build, "golangci-lint"),
    (r"\b(?:py\.test|pytest)\b", Check::Tests, "pytest"),
    (
        r"\bpython[0-9.]*\s+(?:-m\s+)?(?:unittest|pytest|manage\.py\s+test)\b",
        Check::Tests,
        "pytest",
    ),
    (r"\btox\b|\bnox\b", Check::Tests, "tox"),
    (r"\bvitest\b", Check::Tests, "vitest"),
    (r"\bjest\b", Check::Tests, "jest"),
    (r"\bmocha\b", Check::Tests, "mocha"),
    (
        r"\b(?:npm|pnpm|yarn|bun)\s+(?:run\s+)?(?:test|t)(?::\S+)?(?:\s|$)",
        Check::Tests,
        "npm test",
    ),
    (
        r"\b(?:npm|pnpm|yarn|bun)\s+(?:run\s+)?lint(?::\S+)?\b",
        Check::Build,
        "npm lint",
    ),
    (
        r"\b(?:npm|pnpm|yarn|bun)\s+(?:run\s+)?(?:typecheck|type-check|tsc|check)(?::\S+)?\b",
        Check::Build,
        "npm typecheck",
    ),
    (
        r"\b(?:npm|pnpm|yarn|bun)\s+(?:run\s+)?build(?::\S+)?\b",
        Check::Build,
        "npm build",
    ),
    (r"\b(?:bun|deno)\s+test\b", Check::Tests, "deno test"),
    (r"\brspec\b", Check::Tests, "rspec"),
    (r"\b(?:rake|rails)\s+test\b", Check::Tests, "rake test"),
    (
        r"\b(?:mvn|mvnw|\./mvnw)\b.*\b(?:test|verify|install|package)\b",
        Check::Tests,
        "maven",
    ),
    (r"\b(?:mvn|mvnw)\b.*\bcompile\b", Check::Build, "maven"),
    (
        r"\b(?:gradle|gradlew)\b.*\b(?:test|check|build)\b",
        Check::Tests,
        "gradle",
    ),
    (r"\bdotnet\s+test\b", Check::Tests, "dotnet test"),
    (r"\bdotnet\s+build\b", Check::Build, "dotnet build"),
    (
        r"\bphpunit\b|\bartisan\s+test\b|\bpest\b",
        Check::Tests,
        "phpunit",
    ),
    (r"\bmix\s+test\b", Check::Tests, "mix test"),
    (
        r"\bswift\s+test\b|\bctest\b|\bxcodebuild\b.*\btest\b",
        Check::Tests,
        "swift test",
    ),
    (r"\btsc\b", Check::Build, "tsc"),
    (r"\beslint\b", Check::Build, "eslint"),
    (r"\bmypy\b|\bpyright\b", Check::Build, "mypy"),
    (
        r"\bruff\s+check\b|\bflake8\b|\bpylint\b",
        Check::Build,
        "ruff",
    ),
    (
        r"\bmake\s+(?:-\S+\s+)*(?:test|tests|check|unittest|integration)\b",
        Check::Tests,
        "make test",
    ),
    (
        r"\bmake\s+(?:-\S+\s+)*(?:lint|build|all)\b|\bmake\s*$",
        Check::Build,
        "make",
    ),
    (
        r"(?:^|/)(?:test\.sh|run_tests\.sh|run-tests\.sh)\b",
        Check::Tests,
        "test script",
    ),
];

fn commands() -> &'static [(Regex, Check, &'static str)] {
    static RE: OnceLock<Vec<(Regex, Check, &'static str)>> = OnceLock::new();
    RE.get_or_init(|| {
        COMMANDS
            .iter()
            .map(|(p, c, n)| (Regex::new(p).expect("runner pattern"), *c, *n))
            .collect()
    })
}

/// The verification runner a shell command invokes, if any. Commands that
/// only read or search (`grep`, `cat`, `ls`, `git`, …) never count, even when
/// they mention a runner (`grep pytest setup.cfg`).
pub fn classify(command: &str) -> Option<Runner> {
    let mut found: Option<Runner> = None;
    for stage in stages(command) {
        let stage = stage.trim();
        let first = stage.split_whitespace().next().unwrap_or("");
        let first = first.rsplit('/').next().unwrap_or(first);
        if matches!(
            first,
            "grep"
                | "rg"
                | "cat"
                | "ls"
                | "echo"
                | "git"
                | "head"
                | "tail"
                | "find"
                | "which"
                | "less"
                | "sed"
                | "awk"
                | "wc"
                | "cd"
                | "export"
                | "man"
                | "type"
                | "printf"
        ) {
            continue;
        }
        for (re, check, name) in commands() {
            if re.is_match(stage) {
                let kind = match (*check, *name) {
                    (Check::Tests, _) => "tests",
                    (_, "clippy" | "golangci-lint" | "eslint" | "ruff" | "npm lint") => "lint",
                    (_, "tsc" | "mypy" | "npm typecheck") => "typecheck",
                    _ => "build",
                };
                let r = Runner {
                    check: *check,
                    name: (*name).to_string(),
                    kind,
                };
                // Tests outrank a build in the same command line (`cargo build && cargo test`).
                if found.as_ref().is_none_or(|f| f.check > r.check) {
                    found = Some(r);
                }
                break;
            }
        }
    }
    found
}

/// Whether the command pipes its output into another program (then the
/// exit code is the last stage's, not the runner's).
pub fn piped(command: &str) -> bool {
    let bytes = command.as_bytes();
    bytes.iter().enumerate().any(|(i, b)| {
        *b == b'|' && bytes.get(i + 1) != Some(&b'|') && (i == 0 || bytes[i - 1] != b'|')
    }) || command.contains("|| true")
        || command.contains("; true")
        || command.contains("; echo")
}

fn stages(command: &str) -> impl Iterator<Item = &str> {
    command.split(['\n', ';', '&', '|', '(', ')'])
}

/// Failure lines of the runners' summaries (any one means failed).
const FAIL: &[&str] = &[
    r"test result: FAILED",
    r"(?m)^error: test failed",
    r"error: could not compile",
    r"(?m)^error(?:\[E\d+\])?: ",
    r"(?m)\b[1-9]\d* (?:failed|errors?)\b.* in [0-9.]+\s*s",
    r"(?m)^FAILED\s+\S+",
    r"(?m)^=+ .*\b[1-9]\d* failed\b",
    r"(?m)Tests?:\s+[1-9]\d* failed",
    r"(?m)^[ \t]*(?:FAIL|✗|×)[ \t]+\S+",
    r"(?m)^[ \t]*[1-9]\d* failing\b",
    r"(?m)^--- FAIL:",
    r"(?m)^FAIL\s",
    r"(?m)^FAIL$",
    r"\b\d+ examples?, [1-9]\d* failures?",
    r"BUILD FAILURE",
    r"BUILD FAILED",
    r"Tests run: \d+, Failures: [1-9]",
    r"Tests run: \d+, Failures: \d+, Errors: [1-9]",
    r"Failed!\s+-\s+Failed:\s+[1-9]",
    r"(?m)^(?:FAILURES|ERRORS)!",
    r"Tests: \d+, Assertions: \d+, (?:Failures|Errors): [1-9]",
    r"\berror TS\d+",
    r"✖ [1-9]\d* problems?",
    r"(?m)^Found [1-9]\d* errors? in",
    r"npm ERR!",
    r"ERR_PNPM",
    r"(?m)^error Command failed",
    r"(?m)^make(?:\[\d+\])?: \*\*\*",
    r"[1-9]\d* tests? failed",
    r"(?m)^Ran \d+ tests?.*\n+FAILED",
];

/// Pass lines of the runners' summaries.
const PASS: &[&str] = &[
    r"test result: ok\.",
    r"(?m)\b\d+ passed\b",
    r"(?m)Tests?:?\s+\d+ passed",
    r"(?m)^[ \t]*\d+ passing\b",
    r"(?m)^ok\s+\S+",
    r"(?m)^PASS\b",
    r"\b\d+ examples?, 0 failures",
    r"BUILD SUCCESS",
    r"Tests run: \d+, Failures: 0, Errors: 0",
    r"Passed!\s+-\s+Failed:\s+0",
    r"(?m)^OK \(\d+ tests?",
    r"(?m)^OK$",
    r"Success: no issues found",
    r"(?m)^[ \t]*Finished .*(?:target|profile)",
    r"All checks passed",
    r"(?m)^[ \t]*✓ ",
];

fn fail_re() -> &'static [Regex] {
    static RE: OnceLock<Vec<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        FAIL.iter()
            .map(|p| Regex::new(p).expect("fail pattern"))
            .collect()
    })
}

fn pass_re() -> &'static [Regex] {
    static RE: OnceLock<Vec<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        PASS.iter()
            .map(|p| Regex::new(p).expect("pass pattern"))
            .collect()
    })
}

/// What a runner's output says: `Some(false)` with the failing line,
/// `Some(true)` with the passing line, `None` when it says neither. Only the
/// last 64 KB are read (the summary is at the end).
pub fn summary(output: &str) -> Option<(bool, String)> {
    let tail = tail(output, 64 * 1024);
    for re in fail_re() {
        if let Some(m) = re.find(tail) {
            return Some((false, line_at(tail, m.start())));
        }
    }
    for re in pass_re() {
        if let Some(m) = re.find(tail) {
            return Some((true, line_at(tail, m.start())));
        }
    }
    None
}

/// The exit code a Bash tool result shows (`Exit code N` on its first line).
pub fn exit_code(result: &str) -> Option<i32> {
    let first = result.trim_start().lines().next()?;
    let rest = first
        .strip_prefix("Error: Exit code ")
        .or_else(|| first.strip_prefix("Exit code "))?;
    rest.split_whitespace().next()?.parse().ok()
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

fn line_at(s: &str, at: usize) -> String {
    let start = s[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = s[at..].find('\n').map_or(s.len(), |i| at + i);
    let line = s[start..end].trim();
    line.chars().take(160).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runners_are_recognised_and_readers_are_not() {
        for (cmd, name) in [
            ("cargo test --all", "cargo test"),
            ("cd api && go test ./...", "go test"),
            ("python -m pytest -q tests/", "pytest"),
            ("npx jest src", "jest"),
            ("pnpm vitest run", "vitest"),
            ("npm test", "npm test"),
            ("yarn run test:unit", "npm test"),
            ("bundle exec rspec spec/models", "rspec"),
            ("./gradlew test", "gradle"),
            ("mvn -q test", "maven"),
            ("dotnet test", "dotnet test"),
            ("vendor/bin/phpunit", "phpunit"),
            ("npx tsc --noEmit", "tsc"),
            ("npx eslint .", "eslint"),
            ("cargo clippy -- -D warnings", "clippy"),
            ("mypy src", "mypy"),
            ("make test", "make test"),
            ("cargo build && cargo test 2>&1 | tail -5", "cargo test"),
        ] {
            assert_eq!(
                classify(cmd).map(|r| r.name),
                Some(name.to_string()),
                "{cmd}"
            );
        }
        for cmd in [
            "grep -rn pytest setup.cfg",
            "cat jest.config.js",
            "ls tests",
            "git status",
            "rm -rf target",
        ] {
            assert_eq!(classify(cmd), None, "{cmd}");
        }
    }

    #[test]
    fn summaries() {
        for (out, pass) in [
            ("test result: ok. 12 passed; 0 failed; 0 ignored", true),
            ("test result: FAILED. 3 passed; 1 failed;", false),
            ("===== 4 passed in 0.12s =====", true),
            ("===== 1 failed, 3 passed in 0.3s =====", false),
            ("Tests:       2 failed, 10 passed, 12 total", false),
            ("Tests:       12 passed, 12 total", true),
            (" Tests  3 passed (3)", true),
            ("  5 passing (20ms)\n  1 failing", false),
            ("ok  \tgithub.com/x/y\t0.01s", true),
            (
                "--- FAIL: TestX (0.00s)\nFAIL\tgithub.com/x/y\t0.01s",
                false,
            ),
            ("10 examples, 0 failures", true),
            ("10 examples, 2 failures", false),
            ("[INFO] BUILD SUCCESS", true),
            ("[ERROR] BUILD FAILURE", false),
            ("Passed!  - Failed:     0, Passed:    12", true),
            ("Failed!  - Failed:     2, Passed:    10", false),
            ("OK (12 tests, 30 assertions)", true),
            ("FAILURES!\nTests: 5, Assertions: 9, Failures: 1.", false),
            ("src/a.ts(3,1): error TS2322: Type 'string'", false),
            ("✖ 3 problems (3 errors, 0 warnings)", false),
            ("Found 2 errors in 1 file (checked 3 source files)", false),
            ("Success: no issues found in 3 source files", true),
        ] {
            assert_eq!(summary(out).map(|s| s.0), Some(pass), "{out}");
        }
        assert_eq!(summary("hello"), None);
        assert_eq!(exit_code("Exit code 1\nfoo"), Some(1));
        assert_eq!(exit_code("Error: Exit code 2"), Some(2));
        assert_eq!(exit_code("fine"), None);
    }
}
