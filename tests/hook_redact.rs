//! The redaction corpus (tests/fixtures/redaction/corpus.txt): every
//! real-shaped fake secret is removed, every innocent look-alike is left as is.

use modelfit::signals::redact;

fn corpus() -> (Vec<(String, String)>, Vec<String>) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/redaction/corpus.txt"
    ))
    .expect("corpus fixture");
    let mut secrets = Vec::new();
    let mut clean = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let fields: Vec<&str> = line.split('\t').collect();
        let unescape = |s: &str| s.replace("\\n", "\n");
        match fields[0] {
            "SECRET" => {
                let secret = unescape(fields[1]);
                let ctx = unescape(fields[2]);
                let text = if ctx.contains("{}") {
                    ctx.replace("{}", &secret)
                } else {
                    ctx
                };
                assert!(
                    text.contains(&secret),
                    "corpus line lacks its secret: {line}"
                );
                secrets.push((secret, text));
            }
            "CLEAN" => clean.push(unescape(fields[1])),
            other => panic!("unknown corpus kind {other}"),
        }
    }
    (secrets, clean)
}

#[test]
fn corpus_is_big_enough() {
    let (s, c) = corpus();
    assert!(s.len() >= 30, "{} secrets", s.len());
    assert!(c.len() >= 30, "{} look-alikes", c.len());
}

#[test]
fn every_secret_is_redacted() {
    let (secrets, _) = corpus();
    let mut missed = Vec::new();
    for (secret, text) in &secrets {
        let out = redact(text);
        if out.contains(secret.as_str()) || !out.contains("[REDACTED]") {
            missed.push(format!("{text:?} -> {out:?}"));
        }
        // Redaction is stable: running it twice changes nothing more.
        assert_eq!(redact(&out), out);
    }
    assert!(missed.is_empty(), "secrets left in:\n{}", missed.join("\n"));
}

#[test]
fn look_alikes_are_left_alone() {
    let (_, clean) = corpus();
    let touched: Vec<String> = clean
        .iter()
        .filter_map(|t| {
            let out = redact(t);
            (&out != t).then(|| format!("{t:?} -> {out:?}"))
        })
        .collect();
    assert!(
        touched.is_empty(),
        "innocent text changed:\n{}",
        touched.join("\n")
    );
}

#[test]
fn surrounding_text_survives() {
    assert_eq!(
        redact("mail jane@acme.io then run make"),
        "mail [REDACTED] then run make"
    );
    assert_eq!(
        redact("postgres://admin:pw1@db:5432/app"),
        "postgres://[REDACTED]@db:5432/app"
    );
    assert_eq!(
        redact(r#"{"password": "x y"}"#),
        r#"{"password": "[REDACTED]"}"#
    );
}
