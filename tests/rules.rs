//! The models.json rule grammar: every operator, precedence, matching
//! semantics, and parse errors that name the failing column.

use modelfit::rules::{parse, Facts};

fn eval(cond: &str, task: &str, complexity: &str, files: Option<u32>) -> bool {
    parse(cond)
        .unwrap_or_else(|e| panic!("{cond:?}: {e}"))
        .eval(&Facts {
            task,
            complexity,
            estimated_files: files,
        })
}

fn t(cond: &str, task: &str) -> bool {
    eval(cond, task, "medium", None)
}

#[test]
fn contains_lists_are_case_insensitive_and_match_word_starts() {
    let c = "task contains 'architecture' or 'design'";
    assert!(t(c, "Design the login page"));
    assert!(t(c, "new ARCHITECTURE for sync"));
    assert!(
        t(c, "designing a schema"),
        "a word may continue after the needle"
    );
    assert!(t(c, "UI/design-system tokens"));
    assert!(
        !t(c, "Redesign the page"),
        "no match inside a word (unlike the orchestrator)"
    );
    assert!(!t(c, "fix a typo"));
    // Double quotes, escapes, multi-word needles.
    assert!(t(
        "task contains \"design system\"",
        "update the Design System docs"
    ));
    assert!(t(r"task contains 'don\'t'", "Don't panic"));
    // A needle starting with punctuation matches anywhere.
    assert!(t("task contains '.md'", "edit README.md"));
    // `and` list: all needles.
    let all = "task contains 'api' and 'test'";
    assert!(t(all, "add API tests"));
    assert!(!t(all, "add API endpoint"));
    assert!(!t("task contains 'api'", "rapid prototyping"));
}

#[test]
fn every_operator() {
    for (cond, files, want) in [
        ("estimated_files > 5", Some(6), true),
        ("estimated_files > 5", Some(5), false),
        ("estimated_files >= 5", Some(5), true),
        ("estimated_files < 5", Some(4), true),
        ("estimated_files < 5", Some(5), false),
        ("estimated_files <= 5", Some(5), true),
        ("estimated_files == 5", Some(5), true),
        ("estimated_files != 5", Some(5), false),
        ("estimated_files != 5", Some(2), true),
        // No file count known: every comparison is false.
        ("estimated_files > 5", None, false),
        ("estimated_files < 5", None, false),
        ("estimated_files != 5", None, false),
    ] {
        assert_eq!(
            eval(cond, "x", "medium", files),
            want,
            "{cond} with {files:?}"
        );
    }
    assert!(eval("complexity == 'complex'", "x", "complex", None));
    assert!(
        eval("complexity == complex", "x", "Complex", None),
        "bare and case-insensitive"
    );
    assert!(!eval("complexity == \"simple\"", "x", "complex", None));
    assert!(eval("complexity != simple", "x", "complex", None));
    assert!(t("keyword == 'api'", "Add APIs for billing"));
    assert!(!t("keyword == api", "rapid"));
    assert!(t("keyword != 'docs'", "add API"));
    assert!(t("task matches /end-?points?/", "new Endpoint"));
    assert!(t(r"task matches /a\/b/", "path a/b"));
    assert!(!t("task matches /^fix/", "hotfix"));
    assert!(t("not task contains 'api'", "fix typo"));
    assert!(t("! task contains 'api'", "fix typo"));
    assert!(t("task contains 'a' && task contains 'b'", "a b"));
    assert!(t("task contains 'zz' || task contains 'b'", "a b"));
    assert!(
        t("TASK CONTAINS 'b' OR task Contains 'c'", "b"),
        "words are case-insensitive"
    );
}

#[test]
fn precedence_and_parentheses() {
    // or binds looser than and: true or (false and false).
    assert!(t(
        "task contains 'a' or task contains 'x' and task contains 'y'",
        "a"
    ));
    // (true or false) and false.
    assert!(!t(
        "(task contains 'a' or task contains 'x') and task contains 'y'",
        "a"
    ));
    // not binds tighter than and: (not a) and b.
    assert!(!t("not task contains 'a' and task contains 'b'", "a b"));
    assert!(t("not (task contains 'a' and task contains 'z')", "a b"));
    assert!(t("not not task contains 'a'", "a"));
    // The shorthand list stops where a non-string follows `or`.
    let c = "task contains 'api' or estimated_files > 3";
    assert!(eval(c, "x", "medium", Some(4)));
    assert!(eval(c, "api", "medium", None));
    assert!(!eval(c, "x", "medium", Some(2)));
    // A needle list binds tighter than the boolean operators: (a or b) and c.
    let c = "task contains 'a' or 'b' and task contains 'c'";
    assert!(!t(c, "a"));
    assert!(t(c, "b c"));
    assert!(t(c, "a c"));
    assert!(eval(
        "(complexity == complex and estimated_files >= 10) or keyword == 'security'",
        "audit",
        "complex",
        Some(12)
    ));
}

#[test]
fn errors_name_the_column() {
    for (cond, col, msg) in [
        (
            "task contains api",
            15,
            "expected a quoted string after `contains`, found `api`",
        ),
        ("task contains 'api", 15, "unterminated string"),
        (
            "task has 'x'",
            6,
            "expected `contains` or `matches` after `task`, found `has`",
        ),
        (
            "estimated_files > five",
            19,
            "expected a whole number of files, found `five`",
        ),
        ("estimated_files 5", 17, "expected a comparison"),
        ("estimated_files >", 18, "found the end of the condition"),
        ("(task contains 'a'", 19, "expected `)`, found the end"),
        (
            "task contains 'a' 'b'",
            19,
            "expected `and`, `or` or the end of the condition, found string 'b'",
        ),
        ("task contains 'a' or", 21, "expected a condition"),
        ("size > 3", 1, "expected a condition"),
        ("task matches /(/", 14, "invalid regex"),
        (
            "complexity = 'x'",
            12,
            "expected `==` or `!=` after `complexity`",
        ),
        ("task contains 'a' & 'b'", 19, "did you mean `&&`"),
        ("estimated_files > 5x", 20, "a number must be followed"),
        ("", 1, "expected a condition"),
        ("tâche contains 'x'", 1, "expected a condition"),
        ("task contains 'é' or ?", 22, "unexpected character `?`"),
        ("task contains 'a' or 'b' and 'c'", 26, "ambiguous"),
    ] {
        let e = parse(cond).expect_err(cond);
        assert_eq!(e.column, col, "{cond:?}: {e}");
        assert!(e.to_string().contains(msg), "{cond:?}: {e}");
        assert!(
            e.to_string().starts_with(&format!("at column {col}: ")),
            "{e}"
        );
    }
}

#[test]
fn hostile_inputs_do_not_crash() {
    let deep = format!("{}task contains 'a'{}", "(".repeat(200), ")".repeat(200));
    assert!(t(&deep, "a"));
    let long = format!("task contains '{}'", "x".repeat(100_000));
    assert!(!t(&long, "short"));
    assert!(!parse("task matches /(a+)+$/").unwrap().eval(&Facts {
        task: &("a".repeat(10_000) + "!"),
        ..Facts::default()
    }));
    assert!(parse("estimated_files > 99999999999999999999999").is_err());
}
