//! `doctor --ack` acknowledges the error log up to now (later errors still
//! fail); `modelfit mcp`'s informational lines do not make doctor fail.

mod common;

use std::process::Output;
use std::time::Duration;

use common::Home;

struct Env {
    home: Home,
    claude: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let e = Env {
            home: Home::fixture(),
            claude: tempfile::tempdir().unwrap(),
        };
        let out = e.run("2026-03-10T08:00:00.000Z", &["hooks", "install"], "");
        assert!(out.status.success());
        e
    }

    fn run(&self, now: &str, args: &[&str], stdin: &str) -> Output {
        self.home
            .cmd()
            .env("MODELFIT_NOW", now)
            .env("CLAUDE_CONFIG_DIR", self.claude.path())
            .args(args)
            .write_stdin(stdin)
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap()
    }

    fn doctor(&self, now: &str, extra: &[&str]) -> (Option<i32>, String) {
        let mut args = vec!["doctor"];
        args.extend_from_slice(extra);
        let out = self.run(now, &args, "");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// A payload the hook cannot use: logged as an error, exit 0.
    fn bad_payload(&self, now: &str) {
        let out = self.run(now, &["hook"], "{ this is not a payload");
        assert_eq!(out.status.code(), Some(0));
    }
}

#[test]
fn ack_clears_the_errors_so_far_and_later_errors_fail_again() {
    let e = Env::new();
    let (code, text) = e.doctor("2026-03-10T09:00:00.000Z", &[]);
    assert_eq!(code, Some(0), "{text}");

    e.bad_payload("2026-03-10T09:01:00.000Z");
    e.bad_payload("2026-03-10T09:02:00.000Z");
    let (code, text) = e.doctor("2026-03-10T09:03:00.000Z", &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("2 error(s) logged"), "{text}");
    assert!(text.contains("doctor --ack"), "{text}");

    let (code, text) = e.doctor("2026-03-10T09:04:00.000Z", &["--ack"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("acknowledged 2 error(s)"), "{text}");
    let (code, text) = e.doctor("2026-03-10T09:05:00.000Z", &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("since `doctor --ack`"), "{text}");

    // A later error fails again, and only it is counted.
    e.bad_payload("2026-03-10T09:06:00.000Z");
    let (code, text) = e.doctor("2026-03-10T09:07:00.000Z", &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("1 error(s) logged"), "{text}");

    // Acknowledging twice is harmless; the new error is covered.
    let (code, text) = e.doctor("2026-03-10T09:08:00.000Z", &["--ack"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("acknowledged 1 error(s)"), "{text}");
}

#[cfg(feature = "mcp")]
#[test]
fn an_mcp_session_leaves_doctor_passing() {
    let e = Env::new();
    let input = concat!(
        r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
        "\n",
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        "\n",
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
        "\n",
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"select_model","arguments":{"complexity":"simple","task":"x"}}}"#,
        "\n",
    );
    let out = e.run("2026-03-10T10:00:00.000Z", &["mcp"], input);
    assert!(out.status.success());
    let mcp_log = e.home.path().join("logs/modelfit/mcp.log");
    let log = std::fs::read_to_string(&mcp_log).unwrap();
    assert!(log.contains("INFO"), "{log}");
    let errors = std::fs::read_to_string(e.home.path().join("logs/modelfit/modelfit.log"))
        .unwrap_or_default();
    assert!(
        !errors.contains("INFO"),
        "informational lines in the error log: {errors}"
    );
    let (code, text) = e.doctor("2026-03-10T10:01:00.000Z", &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("error(s) logged"), "{text}");
}
