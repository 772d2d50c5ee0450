//! A labelled session generator for the outcome-evidence evaluation
//! (issue 9): Claude Code sessions whose tasks succeed or fail in known ways,
//! written as real-shaped transcripts and hook payloads.
//!
//! Its phrase lists are its own, written apart from (and unlike) the
//! detector's word lists in `src/hook/evidence/`, so the score measures
//! generalisation: many phrasings here have no matching pattern there.
#![allow(dead_code)]

use serde_json::{json, Value};

/// SplitMix64: small, seeded, reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn f(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.f() < p
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// A runner: its command, and its output for a pass and a failure
/// (`n` tests, `k` failing), in the runner's real format.
pub struct RunnerFmt {
    pub name: &'static str,
    pub command: &'static [&'static str],
    pub pass: fn(usize) -> String,
    pub fail: fn(usize, usize) -> String,
}

pub const RUNNERS: &[RunnerFmt] = &[
    RunnerFmt {
        name: "cargo",
        command: &[
            "cargo test",
            "cargo test --workspace",
            "cargo test -p core -- --nocapture",
        ],
        pass: |n| {
            format!("   Compiling app v0.1.0\n    Finished `test` profile [unoptimized + debuginfo] target(s) in 3.21s\n     Running unittests src/lib.rs\n\nrunning {n} tests\n{}\ntest result: ok. {n} passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.02s\n", "test tests::parses ... ok")
        },
        fail: |n, k| {
            format!("running {n} tests\ntest tests::parses ... FAILED\n\nfailures:\n\n---- tests::parses stdout ----\nthread 'tests::parses' panicked at src/lib.rs:40:9:\nassertion `left == right` failed\n\nfailures:\n    tests::parses\n\ntest result: FAILED. {} passed; {k} failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.03s\n\nerror: test failed, to rerun pass `--lib`", n - k)
        },
    },
    RunnerFmt {
        name: "pytest",
        command: &["pytest -q", "python -m pytest tests/ -x", "uv run pytest"],
        pass: |n| format!("{}\n{n} passed in 0.84s", ".".repeat(n.min(60))),
        fail: |n, k| {
            format!("..F.\n=================================== FAILURES ===================================\n____________________________ test_total ____________________________\n\n    def test_total():\n>       assert total([1, 2]) == 3\nE       assert 4 == 3\n\ntests/test_calc.py:7: AssertionError\n=========================== short test summary info ============================\nFAILED tests/test_calc.py::test_total - assert 4 == 3\n========================= {k} failed, {} passed in 0.91s =========================", n - k)
        },
    },
    RunnerFmt {
        name: "jest",
        command: &["npx jest", "npm test", "yarn test"],
        pass: |n| {
            format!("PASS src/cart.test.js\n  cart\n    ✓ adds items (3 ms)\n\nTest Suites: 1 passed, 1 total\nTests:       {n} passed, {n} total\nSnapshots:   0 total\nTime:        1.204 s\nRan all test suites.")
        },
        fail: |n, k| {
            format!("FAIL src/cart.test.js\n  cart\n    ✕ applies discount (5 ms)\n\n  ● cart › applies discount\n\n    expect(received).toBe(expected) // Object.is equality\n\n    Expected: 90\n    Received: 100\n\nTest Suites: 1 failed, 1 total\nTests:       {k} failed, {} passed, {n} total\nSnapshots:   0 total\nTime:        1.377 s", n - k)
        },
    },
    RunnerFmt {
        name: "vitest",
        command: &["npx vitest run", "pnpm vitest run src"],
        pass: |n| {
            format!(" ✓ src/date.test.ts ({n} tests) 12ms\n\n Test Files  1 passed (1)\n      Tests  {n} passed ({n})\n   Start at  10:12:01\n   Duration  402ms")
        },
        fail: |n, k| {
            format!(" ❯ src/date.test.ts ({n} tests | {k} failed) 15ms\n   × formats ISO dates\n     → expected '2024-1-5' to be '2024-01-05'\n\n Test Files  1 failed (1)\n      Tests  {k} failed | {} passed ({n})\n   Duration  455ms", n - k)
        },
    },
    RunnerFmt {
        name: "mocha",
        command: &["npx mocha", "npm run test:unit"],
        pass: |n| format!("\n  parser\n    ✔ reads headers\n\n\n  {n} passing (18ms)\n"),
        fail: |n, k| {
            format!("\n  parser\n    1) reads headers\n\n\n  {} passing (21ms)\n  {k} failing\n\n  1) parser\n       reads headers:\n     AssertionError [ERR_ASSERTION]: Expected values to be strictly equal", n - k)
        },
    },
    RunnerFmt {
        name: "go",
        command: &["go test ./...", "go test -race ./internal/..."],
        pass: |_| {
            "ok  \texample.com/app/internal/store\t0.014s\nok  \texample.com/app/internal/api\t0.031s".into()
        },
        fail: |_, _| {
            "--- FAIL: TestStorePut (0.00s)\n    store_test.go:22: got 2 items, want 3\nFAIL\nFAIL\texample.com/app/internal/store\t0.012s\nok  \texample.com/app/internal/api\t0.030s\nFAIL".into()
        },
    },
    RunnerFmt {
        name: "rspec",
        command: &["bundle exec rspec", "bin/rspec spec/models"],
        pass: |n| {
            format!("{}\n\nFinished in 0.41 seconds (files took 1.2 seconds to load)\n{n} examples, 0 failures", ".".repeat(n.min(40)))
        },
        fail: |n, k| {
            format!("..F.\n\nFailures:\n\n  1) User#full_name joins names\n     Failure/Error: expect(user.full_name).to eq('Ada Lovelace')\n\nFinished in 0.44 seconds\n{n} examples, {k} failures\n\nFailed examples:\n\nrspec ./spec/models/user_spec.rb:8")
        },
    },
    RunnerFmt {
        name: "maven",
        command: &["mvn -q test", "./mvnw verify"],
        pass: |n| {
            format!("[INFO] Tests run: {n}, Failures: 0, Errors: 0, Skipped: 0\n[INFO] ------------------------------------------------------------------------\n[INFO] BUILD SUCCESS\n[INFO] ------------------------------------------------------------------------")
        },
        fail: |n, k| {
            format!("[ERROR] Tests run: {n}, Failures: {k}, Errors: 0, Skipped: 0\n[ERROR] testParse(com.acme.ParserTest)  Time elapsed: 0.01 s  <<< FAILURE!\n[INFO] BUILD FAILURE\n[ERROR] Failed to execute goal org.apache.maven.plugins:maven-surefire-plugin")
        },
    },
    RunnerFmt {
        name: "gradle",
        command: &["./gradlew test", "gradle check"],
        pass: |_| {
            "> Task :compileJava\n> Task :test\n\nBUILD SUCCESSFUL in 6s\n4 actionable tasks: 4 executed".into()
        },
        fail: |_, _| {
            "> Task :test FAILED\n\nParserTest > parsesDates() FAILED\n    org.opentest4j.AssertionFailedError at ParserTest.java:31\n\n3 tests completed, 1 failed\n\nFAILURE: Build failed with an exception.\n\nBUILD FAILED in 5s".into()
        },
    },
    RunnerFmt {
        name: "dotnet",
        command: &["dotnet test"],
        pass: |n| {
            format!("  Determining projects to restore...\nPassed!  - Failed:     0, Passed:    {n}, Skipped:     0, Total:    {n}, Duration: 120 ms - Api.Tests.dll (net8.0)")
        },
        fail: |n, k| {
            format!("  Failed Api.Tests.OrderTests.Total [12 ms]\n  Error Message:\n   Assert.Equal() Failure\nFailed!  - Failed:     {k}, Passed:    {}, Skipped:     0, Total:    {n}, Duration: 140 ms - Api.Tests.dll (net8.0)", n - k)
        },
    },
    RunnerFmt {
        name: "phpunit",
        command: &["vendor/bin/phpunit", "php artisan test"],
        pass: |n| {
            format!("PHPUnit 10.5.2 by Sebastian Bergmann and contributors.\n\n{}\n\nTime: 00:00.120, Memory: 8.00 MB\n\nOK ({n} tests, {} assertions)", ".".repeat(n.min(30)), n * 2)
        },
        fail: |n, k| {
            format!("PHPUnit 10.5.2\n\n..F\n\nThere was 1 failure:\n\n1) Tests\\CartTest::testTotal\nFailed asserting that 100 matches expected 90.\n\nFAILURES!\nTests: {n}, Assertions: {}, Failures: {k}.", n * 2)
        },
    },
    RunnerFmt {
        name: "tsc",
        command: &["npx tsc --noEmit", "pnpm tsc -p ."],
        pass: |_| String::new(),
        fail: |_, k| {
            format!("src/api/client.ts(42,7): error TS2322: Type 'string' is not assignable to type 'number'.\n\nFound {k} error in src/api/client.ts:42")
        },
    },
    RunnerFmt {
        name: "eslint",
        command: &["npx eslint src", "npm run lint"],
        pass: |_| String::new(),
        fail: |_, k| {
            format!("/app/src/index.js\n  12:5  error  'x' is assigned a value but never used  no-unused-vars\n\n✖ {k} problem ({k} error, 0 warnings)")
        },
    },
    RunnerFmt {
        name: "mypy",
        command: &["mypy src", "uv run mypy ."],
        pass: |_| "Success: no issues found in 14 source files".into(),
        fail: |_, k| {
            format!("src/app/models.py:31: error: Incompatible return value type (got \"str\", expected \"int\")  [return-value]\nFound {k} error in 1 file (checked 14 source files)")
        },
    },
    RunnerFmt {
        name: "clippy",
        command: &["cargo clippy --all-targets -- -D warnings"],
        pass: |_| {
            "    Checking app v0.1.0 (/w)\n    Finished `dev` profile [unoptimized + debuginfo] target(s) in 1.9s".into()
        },
        fail: |_, _| {
            "error: this `if` has identical blocks\n  --> src/lib.rs:10:5\n   |\nerror: could not compile `app` (lib) due to 1 previous error".into()
        },
    },
];

/// Things a developer asks for.
pub const TASKS: &[&str] = &[
    "add a --dry-run flag to the sync command",
    "the invoice totals are off by one cent, find out why and fix it",
    "write tests for the slugify helper",
    "refactor the config loader so it reads env vars first",
    "make the sidebar collapse on small screens",
    "add pagination to GET /orders",
    "upgrade the date library and fix what breaks",
    "cache the geocoding lookups for an hour",
    "implement CSV export for the reports page",
    "fix the flaky websocket reconnect test",
    "rename the `usr` module to `users` everywhere",
    "add retry with backoff to the webhook sender",
    "the login form accepts empty passwords, stop that",
    "port the shell deploy script to a Makefile target",
    "add a health check endpoint",
    "speed up the image thumbnail job",
    "support dark mode in the settings page",
    "migrate the cron jobs to the new scheduler",
    "validate email addresses on signup",
    "add a README section about local setup",
    "split the 900-line utils file into modules",
    "make the search box debounce its requests",
    "add type hints to the billing package",
    "fix the memory leak in the event bus",
    "log the request id in every error line",
    "the nightly backup silently skips large files, fix it",
    "add an audit trail for role changes",
    "let admins impersonate users for support",
    "convert the callbacks in the uploader to async/await",
    "add rate limiting to the public API",
];

/// Corrections and complaints (the generator's own words).
pub const CORRECTIONS: &[&str] = &[
    "hmm, the page still shows the old value",
    "that did not fix it, same traceback as before",
    "nope, 500 again on the orders endpoint",
    "It's still crashing on startup",
    "you broke the signup form",
    "this isn't right, the totals are off now",
    "still seeing the warning in the console",
    "the tests fail on my machine",
    "no, that's not it. the bug is in the parser",
    "didn't work. same error",
    "that made it worse, now nothing loads",
    "wrong approach, undo that please",
    "the build is red now",
    "nothing changed, the button is still disabled",
    "why did you delete the migration??",
    "you forgot to update the callers",
    "still broken: TypeError: cannot read properties of undefined",
    "It doesn't compile anymore",
    "revert everything you just did",
    "that's incorrect, the spec says ISO dates",
    "try again, the output is still empty",
    "Not what I asked for, I wanted the CSV not JSON",
    "ugh, still getting the same 404",
    "the fix doesn't work when the list is empty",
    // Held out on purpose: no detector pattern targets these.
    "go back to the previous version",
    "are you sure? I'm seeing the exact same stack trace",
    "I ran it and the numbers are still wrong",
    "negative, it fails exactly like before",
];

/// Praise and acceptance.
pub const PRAISE: &[&str] = &[
    "cool, that works",
    "great stuff, ship it",
    "awesome thx",
    "looks right to me",
    "perfect!",
    "nice one",
    "works like a charm, thanks",
    "lgtm, commit it",
    "thank you, that fixed it",
    "excellent. now push it",
    "that did the trick",
    "beautiful 🎉",
    "thanks a lot!",
    "yep that's exactly it",
    "good job, merge it",
    // Held out.
    "sweet, all green on my side",
    "confirmed fixed on staging",
];

/// Ratings (score out of ten, thumbs); `(text, rating)`.
pub const RATINGS: &[(&str, f64)] = &[
    ("8/10", 8.0),
    ("9/10 nice", 9.0),
    ("rating: 10/10", 10.0),
    ("I'd give it a 7 out of 10", 7.0),
    ("7 / 10, good enough", 7.0),
    ("👍", 9.0),
    ("2/10, it didn't work at all", 2.0),
    ("3 out of 10", 3.0),
    ("👎 not what I needed", 2.0),
    ("rating 1/10", 1.0),
    ("score: 4/10", 4.0),
    ("thumbs down", 2.0),
];

/// New requests that mention errors, failures, breakage or start with "no"
/// about something else: must not count as complaints.
pub const LOOK_ALIKES: &[&str] = &[
    "add error handling for when the payment API returns 500",
    "why does the test suite fail on windows CI? just investigate, don't change anything",
    "no need to touch the migrations, now update the model docs",
    "write a test that fails when the input is empty",
    "improve the 'file not found' error message in the importer",
    "the README says the build fails without node 20, make that clearer",
    "log a warning when retries are exhausted",
    "handle broken symlinks in the file scanner",
    "rename FailureReport to IncidentReport",
    "create an admin page that lists failed payments",
    "add a retry button when the upload fails",
    "what happens if the cache is wrong? add a comment explaining it",
    "no rush, but can you add a changelog entry",
    "show a friendly error page instead of the stack trace",
    "make the CLI exit with code 2 on invalid arguments",
    "count how many jobs errored last week and print it",
    "add a test for the broken-pipe case in the exporter",
    "wrap the database errors in our own error type",
    "the linter complains about line length in generated files, exclude them",
    "add an alert when the error rate goes above 5%",
    "document why the old parser was wrong about leap years",
    "make failed logins lock the account after 5 tries",
    "add a `--fail-fast` option to the test runner script",
    "capture panics in the worker and report them to sentry",
    "no more than 50 items per page please, add that limit",
    "write a migration that fixes the broken foreign keys in legacy data",
    "can you explain why the undo feature needs a stack?",
    "add a dead letter queue for messages that fail to process",
    "return 404 instead of 500 when the user does not exist",
    "add a timeout so the health check cannot hang",
    "the old code had a bug with timezones; add a regression test for it",
    "validate the config and print what is wrong with it",
    "add an integration test for the revert endpoint",
    "make the error toast disappear after 5 seconds",
    "track failed webhook deliveries in a table",
    "stop the spinner when the request errors out",
    "add 'still processing' status to the job model",
    "undo/redo support for the text editor, please",
    "no other changes needed; just bump the version to 2.3.0",
    "add a metric for crashed workers",
    "make the importer skip rows that fail validation and report them",
    "add a 'try again' link to the offline page",
];

/// Final messages.
pub const DONE: &[&str] = &[
    "Done. The change is in place and the tests pass.",
    "I've implemented it. Summary of changes:\n- updated the handler\n- added tests",
    "All set — the endpoint now paginates and the suite is green.",
    "Fixed. The root cause was a missing await in the loader.",
    "Here's what I changed: the config loader now checks env vars first.",
    "The feature is complete. Let me know if you want the docs updated too.",
    "I made the change in `src/app.ts` and verified it works.",
];

pub const NEUTRAL: &[&str] = &[
    "Here is a summary of the changes in the three files.",
    "I updated the module as requested.",
    "Changes made. You may want to double-check the copy on the settings page.",
];

pub const ADMITS: &[&str] = &[
    "I couldn't get the integration test to pass; the mock server keeps timing out.",
    "I wasn't able to find the cause. The test still fails intermittently.",
    "Unfortunately the build is still failing on the linker step and I'm not sure why.",
    "I tried three approaches but could not make the totals match; it needs a closer look at the rounding spec.",
    "The fix is only partial: two of the tests are still failing.",
    "I'm stuck on the permissions error when writing to /var/lib; I need more information about the deployment.",
];

/// Success messages that sound like an admission (must not count as one).
pub const ADMIT_LOOK_ALIKES: &[&str] = &[
    "Done. I couldn't find any other callers, so only one file changed.",
    "Fixed: the error message now says which file failed to parse. Tests pass.",
    "I wasn't able to run the e2e suite (no browser here), but the unit tests pass and the change is small.",
];

/// One generated task and what the hook should conclude.
pub struct Task {
    pub prompt: String,
    pub success: bool,
    /// Transcript lines of the turn (prompt line first).
    pub lines: Vec<Value>,
    /// How it ends: `Stop`, `StopFailure`, `none` (Esc: no Stop).
    pub ending: &'static str,
    /// The next prompt (if any) is a follow-up about this task.
    pub next_prompt: Option<String>,
    pub last_message: String,
}

pub struct Builder<'a> {
    pub rng: &'a mut Rng,
    pub session: String,
    pub ws: String,
    pub ts: String,
    n: usize,
    pub lines: Vec<Value>,
}

impl<'a> Builder<'a> {
    pub fn new(rng: &'a mut Rng, session: &str, ws: &str, ts: &str) -> Builder<'a> {
        Builder {
            rng,
            session: session.into(),
            ws: ws.into(),
            ts: ts.into(),
            n: 0,
            lines: Vec::new(),
        }
    }
    fn id(&mut self) -> String {
        self.n += 1;
        format!("{:08x}{:04}", self.rng.next() as u32, self.n)
    }
    fn env(&self, kind: &str) -> Value {
        json!({"parentUuid": null, "isSidechain": false, "userType": "external", "cwd": self.ws,
               "sessionId": self.session, "version": "2.1.150", "gitBranch": "main", "type": kind,
               "timestamp": self.ts})
    }
    pub fn prompt(&mut self, text: &str) {
        let mut l = self.env("user");
        l["message"] = json!({"role": "user", "content": text});
        l["uuid"] = json!(self.id());
        self.lines.push(l);
    }
    fn assistant(&mut self, content: Value) {
        let mut l = self.env("assistant");
        let mid = format!("msg_{}", self.id());
        l["message"] = json!({"model": "claude-sonnet-4-5-20250929", "id": mid, "type": "message",
            "role": "assistant", "content": content, "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 4, "cache_creation_input_tokens": 300 + self.rng.below(900),
                      "cache_read_input_tokens": 9000 + self.rng.below(20000), "output_tokens": 40 + self.rng.below(400)}});
        l["requestId"] = json!(format!("req_{}", self.id()));
        l["uuid"] = json!(self.id());
        self.lines.push(l);
    }
    pub fn text(&mut self, t: &str) {
        self.assistant(json!([{"type": "text", "text": t}]));
    }
    /// A tool call and its result.
    pub fn tool(
        &mut self,
        name: &str,
        input: Value,
        output: &str,
        is_error: bool,
        exit: Option<i32>,
    ) {
        let tid = format!("toolu_{}", self.id());
        self.assistant(json!([{"type": "tool_use", "id": tid, "name": name, "input": input}]));
        let mut l = self.env("user");
        let body = match exit {
            Some(c) if is_error => format!("Exit code {c}\n{output}"),
            _ => output.to_string(),
        };
        // Two shapes of tool_result content seen in real transcripts.
        let content = if self.rng.chance(0.5) {
            json!(body)
        } else {
            json!([{"type": "text", "text": body}])
        };
        l["message"] = json!({"role": "user", "content": [{"tool_use_id": tid, "type": "tool_result", "content": content, "is_error": is_error}]});
        l["toolUseResult"] = if is_error && self.rng.chance(0.5) {
            json!(format!("Error: Exit code {}", exit.unwrap_or(1)))
        } else {
            json!({"stdout": output, "stderr": "", "interrupted": false, "isImage": false})
        };
        l["uuid"] = json!(self.id());
        self.lines.push(l);
    }
    pub fn edit(&mut self) {
        let file = format!(
            "src/{}.rs",
            ["app", "lib", "cart", "api", "util"][self.rng.below(5)]
        );
        let n = 1 + self.rng.below(30);
        let new: String = (0..n).map(|i| format!("line {i}\n")).collect();
        self.tool(
            "Edit",
            json!({"file_path": file, "old_string": "x", "new_string": new}),
            "The file has been updated.",
            false,
            None,
        );
    }
    pub fn read(&mut self) {
        self.tool(
            "Read",
            json!({"file_path": "src/app.rs"}),
            "     1\tfn main() {}",
            false,
            None,
        );
    }
    pub fn incidental_error(&mut self) {
        match self.rng.below(4) {
            0 => self.tool(
                "Bash",
                json!({"command": "grep -rn 'legacyFlag' src"}),
                "",
                true,
                Some(1),
            ),
            1 => self.tool(
                "Bash",
                json!({"command": "cat config/local.yml"}),
                "cat: config/local.yml: No such file or directory",
                true,
                Some(1),
            ),
            2 => self.tool(
                "Read",
                json!({"file_path": "/w/missing.rs"}),
                "<tool_use_error>File does not exist.</tool_use_error>",
                true,
                None,
            ),
            _ => self.tool(
                "Bash",
                json!({"command": "ls build/"}),
                "ls: cannot access 'build/': No such file or directory",
                true,
                Some(2),
            ),
        }
    }
    /// A run of `r`; `pass` decides the output, `piped` hides the exit code.
    pub fn run(&mut self, r: &RunnerFmt, pass: bool, piped: bool) {
        let mut cmd = self.rng.pick(r.command).to_string();
        if piped {
            cmd.push_str(" 2>&1 | tail -30");
        }
        let n = 3 + self.rng.below(40);
        let k = 1 + self.rng.below(n.min(3));
        let out = if pass { (r.pass)(n) } else { (r.fail)(n, k) };
        let failed_exit = !pass && !piped;
        self.tool(
            "Bash",
            json!({"command": cmd, "description": "Run the checks"}),
            &out,
            failed_exit,
            if failed_exit { Some(1) } else { None },
        );
    }
}
