//! The HTML report as Chromium draws it, on the fixture learning sample
//! (tests/fixtures/jarvis/learning-sample/): the bars, their values, the
//! labels under them and the tables' rows are read back from the page
//! Chromium laid out (a probe script measures every element and writes the
//! result into the DOM, which `--dump-dom` prints), and a screenshot is kept
//! as a test artifact (the path is printed). Also: empty states say "no data
//! yet", and records outside the window are counted and dated.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command as Std;
use std::time::Duration;

use common::Home;
use serde_json::{json, Value};

const NOW: &str = "2026-03-14T09:00:00.000Z";

fn sample_home() -> Home {
    Home::with_ledger("learning-sample/dispatches.json")
}

fn run(h: &Home, args: &[&str]) -> String {
    let out = h
        .cmd()
        .env("MODELFIT_NOW", NOW)
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn chromium() -> &'static str {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| Std::new(c).arg("--version").output().is_ok())
        .expect(
            "headless Chromium is required for this test: apt-get install -y chromium \
             (./test.sh installs it)",
        )
}

/// Runs headless Chromium on `page` with `args`, bounded by a timeout.
fn chrome(page: &Path, args: &[String]) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Std::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1200,3200",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Measures what Chromium laid out and writes it as JSON into `#probe`.
const PROBE: &str = r#"<script>
window.addEventListener('load', function () {
  function box(e) { var r = e.getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height}; }
  function chart(sel) {
    var svg = document.querySelector(sel); if (!svg) return null;
    return {
      bars: Array.from(svg.querySelectorAll('rect.bar')).map(function (b) {
        return {model: b.dataset.model, group: b.dataset.group, value: parseFloat(b.dataset.value), box: box(b)}; }),
      values: Array.from(svg.querySelectorAll('text.value')).map(function (t) { return {text: t.textContent, box: box(t)}; }),
      labels: Array.from(svg.querySelectorAll('text.bar-label')).map(function (t) { return {text: t.textContent, box: box(t)}; }),
      groups: Array.from(svg.querySelectorAll('text.group-label')).map(function (t) { return {text: t.firstChild.textContent, box: box(t)}; })
    };
  }
  var tables = {};
  document.querySelectorAll('table.data').forEach(function (t) {
    var h = t.previousElementSibling.textContent;
    tables[h] = {rows: t.tBodies[0].rows.length, visible: box(t).h > 0,
      headers: Array.from(t.querySelectorAll('th')).map(function (th) { return th.textContent; })};
  });
  var probe = document.createElement('pre'); probe.id = 'probe';
  probe.textContent = JSON.stringify({
    success: chart('svg.success'), keywords: chart('svg.keywords'), cost: chart('svg.cost'),
    tables: tables, empty: document.querySelectorAll('.empty').length,
    pre: document.querySelectorAll('pre').length
  });
  document.body.appendChild(probe);
});
</script>"#;

fn probe(html: &Path) -> Value {
    let text = std::fs::read_to_string(html).unwrap();
    let probed = html.with_file_name("probed.html");
    std::fs::write(&probed, text.replace("</body>", &format!("{PROBE}</body>"))).unwrap();
    let out = chrome(&probed, &["--dump-dom".to_string()]);
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom.find("<pre id=\"probe\">").unwrap_or_else(|| {
        panic!(
            "no probe in the DOM: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    }) + "<pre id=\"probe\">".len();
    let end = start + dom[start..].find("</pre>").unwrap();
    let json = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap()
}

fn artifact_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn patterns(h: &Home) -> (Vec<Value>, Vec<Value>) {
    let doc: Value =
        serde_json::from_str(&run(h, &["learn", "report", "--format", "json"])).unwrap();
    let all = doc["patterns"].as_array().unwrap().clone();
    all.into_iter().partition(|p| p.get("keyword").is_none())
}

#[test]
fn chromium_draws_every_bar_with_its_value_and_label_and_real_tables() {
    let h = sample_home();
    run(&h, &["learn"]);
    let html = h.path().join("report.html");
    run(
        &h,
        &[
            "learn",
            "report",
            "--format",
            "html",
            "--output",
            html.to_str().unwrap(),
        ],
    );
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(
        !text.contains("<script src") && !text.contains("<link "),
        "external assets"
    );
    let (levels, keywords) = patterns(&h);
    assert!(!levels.is_empty() && !keywords.is_empty());

    let p = probe(&html);
    // Success chart: one bar per complexity × model cell, each at its rate.
    let success = &p["success"];
    let bars = success["bars"].as_array().unwrap();
    assert_eq!(bars.len(), levels.len(), "{success}");
    let plot_px = |b: &Value| b["box"]["h"].as_f64().unwrap();
    let full = bars
        .iter()
        .map(|b| plot_px(b) / b["value"].as_f64().unwrap().max(1e-9))
        .find(|x| x.is_finite() && *x > 0.0)
        .unwrap();
    for pat in &levels {
        let fam = pat["model_family"].as_str().unwrap();
        let level = pat["complexity"].as_str().unwrap();
        let rate = pat["success_rate"].as_f64().unwrap();
        let bar = bars
            .iter()
            .find(|b| b["model"] == fam && b["group"] == level)
            .unwrap_or_else(|| panic!("no bar for {level}/{fam}"));
        assert!((bar["value"].as_f64().unwrap() - rate).abs() < 1e-3);
        // drawn height proportional to the rate
        assert!((plot_px(bar) - rate * full).abs() < 1.5, "{bar}");
        let bx = &bar["box"];
        let (left, right) = (
            bx["x"].as_f64().unwrap(),
            bx["x"].as_f64().unwrap() + bx["w"].as_f64().unwrap(),
        );
        let centre =
            |v: &Value| v["box"]["x"].as_f64().unwrap() + v["box"]["w"].as_f64().unwrap() / 2.0;
        let inside = |v: &Value| centre(v) > left && centre(v) < right;
        // its value, written over it, above its top
        let want = format!("{:.0}%", rate * 100.0);
        let value = success["values"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| inside(v))
            .unwrap_or_else(|| panic!("no value over {level}/{fam}"));
        assert_eq!(value["text"], want.as_str());
        assert!(value["box"]["y"].as_f64().unwrap() < bx["y"].as_f64().unwrap());
        // its model's name right under it
        let label = success["labels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| inside(v))
            .unwrap_or_else(|| panic!("no label under {level}/{fam}"));
        assert_eq!(label["text"], fam);
        // its complexity's name under its group, within the group's bars
        let group = success["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["text"] == level)
            .unwrap();
        let group_bars: Vec<&Value> = bars.iter().filter(|b| b["group"] == level).collect();
        let gl = group_bars
            .iter()
            .map(|b| b["box"]["x"].as_f64().unwrap())
            .fold(f64::MAX, f64::min);
        let gr = group_bars
            .iter()
            .map(|b| b["box"]["x"].as_f64().unwrap() + b["box"]["w"].as_f64().unwrap())
            .fold(f64::MIN, f64::max);
        assert!(centre(group) > gl && centre(group) < gr, "{level}: {group}");
    }
    // Group labels never overlap.
    let groups = success["groups"].as_array().unwrap();
    for w in groups.windows(2) {
        let a = &w[0]["box"];
        assert!(
            a["x"].as_f64().unwrap() + a["w"].as_f64().unwrap()
                <= w[1]["box"]["x"].as_f64().unwrap(),
            "{groups:?}"
        );
    }

    // Keyword × model chart: a bar per keyword cell shown, values on them.
    let kw = &p["keywords"];
    let kw_bars = kw["bars"].as_array().unwrap();
    assert!(!kw_bars.is_empty() && kw_bars.len() <= keywords.len());
    assert_eq!(kw["values"].as_array().unwrap().len(), kw_bars.len());
    let kgroups = kw["groups"].as_array().unwrap();
    for w in kgroups.windows(2) {
        let a = &w[0]["box"];
        assert!(
            a["x"].as_f64().unwrap() + a["w"].as_f64().unwrap()
                <= w[1]["box"]["x"].as_f64().unwrap() + 0.5,
            "keyword labels overlap: {kgroups:?}"
        );
    }
    // Cost: the records carry tokens of priced models, so cost bars are drawn.
    assert!(
        !p["cost"]["bars"].as_array().unwrap().is_empty(),
        "{}",
        p["cost"]
    );

    // Real tables, with as many rows as the analysis has cells.
    let tables = &p["tables"];
    assert_eq!(tables["Per complexity"]["rows"], levels.len(), "{tables}");
    assert_eq!(
        tables["Per keyword (within each complexity)"]["rows"],
        keywords.len()
    );
    assert!(tables["Per complexity"]["visible"].as_bool().unwrap());
    assert_eq!(p["pre"], 0, "no preformatted block: no raw Markdown");

    // The screenshot, kept as an artifact.
    let png = artifact_dir().join("learn-report-sample.png");
    let _ = std::fs::remove_file(&png);
    let out = chrome(&html, &[format!("--screenshot={}", png.display())]);
    let bytes = std::fs::read(&png)
        .unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(bytes.starts_with(b"\x89PNG"));
    eprintln!("screenshot of the report: {}", png.display());
}

#[test]
fn an_empty_analysis_says_no_data_yet_everywhere() {
    let h = Home::with_ledger("");
    std::fs::write(h.ledger(), "[]").unwrap();
    let out = run(&h, &["learn"]);
    assert!(out.contains("no data yet"), "{out}");
    let md = run(&h, &["learn", "report"]);
    for section in [
        "Per complexity",
        "Per keyword",
        "Success metrics",
        "Open suggestions",
    ] {
        let at = md
            .find(&format!("## {section}"))
            .unwrap_or_else(|| panic!("{section}: {md}"));
        let body = &md[at..];
        let next = body[3..].find("\n## ").map_or(body.len(), |i| i + 3);
        let body = &body[..next];
        assert!(
            !body.contains("|---"),
            "{section} is an empty table: {body}"
        );
        assert!(
            body.to_lowercase().contains("no data yet") || body.contains("None yet"),
            "{section}: {body}"
        );
    }
    let html = h.path().join("r.html");
    run(
        &h,
        &[
            "learn",
            "report",
            "--format",
            "html",
            "--output",
            html.to_str().unwrap(),
        ],
    );
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(!text.contains("class=\"bar\""));
    // four charts and three tables, each with its note
    assert!(text.matches("class=\"empty\"").count() >= 7, "{text}");
    assert!(text.contains("No data yet: cost appears once tasks carry <code>cost_usd</code>"));
}

#[test]
fn records_outside_the_window_are_counted_dated_and_a_since_suggested() {
    let template: Value = {
        let text = std::fs::read_to_string(
            common::fixtures().join("jarvis/learning-sample/dispatches.json"),
        )
        .unwrap();
        let v: Vec<Value> = serde_json::from_str(&text).unwrap();
        v.into_iter().find(|r| r["outcome"] == "success").unwrap()
    };
    let now = chrono::DateTime::parse_from_rfc3339(NOW).unwrap();
    for (seed, (old_days, n)) in [(120i64, 7usize), (400, 3), (95, 12), (1000, 1)]
        .into_iter()
        .enumerate()
    {
        let h = Home::with_ledger("");
        let mut records = Vec::new();
        for i in 0..n {
            let at = now
                - chrono::Duration::days(old_days + (i as i64 * 3) % 11)
                - chrono::Duration::hours(i as i64);
            let mut r = template.clone();
            r["id"] = json!(format!("dispatch-{}-{seed}{i:04}", at.timestamp_millis()));
            r["created_at"] = json!(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            records.push(r);
        }
        std::fs::write(h.ledger(), serde_json::to_string_pretty(&records).unwrap()).unwrap();
        let oldest = records
            .iter()
            .map(|r| r["created_at"].as_str().unwrap()[..10].to_string())
            .min()
            .unwrap();
        let out = run(&h, &["learn"]);
        assert!(
            out.contains(&format!("{n} record(s) fell before the window")),
            "{out}"
        );
        assert!(out.contains(&format!("--since {oldest}")), "{out}");
        assert!(out.contains("no data yet"), "{out}");
        let md = run(&h, &["learn", "report"]);
        assert!(md.contains(&format!("--since {oldest}")), "{md}");
        // Following the advice finds them.
        let out = run(&h, &["learn", "--since", &oldest]);
        assert!(!out.contains("fell before the window"), "{out}");
        assert!(
            out.contains("analysed") && !out.contains("0 complexity × model cells"),
            "{out}"
        );
    }
}

#[test]
fn recorded_cost_is_shown_even_when_too_few_attempts_carry_it_for_cost_per_success() {
    let text =
        std::fs::read_to_string(common::fixtures().join("jarvis/learning-sample/dispatches.json"))
            .unwrap();
    let mut records: Vec<Value> = serde_json::from_str(&text).unwrap();
    // No tokens anywhere (so nothing is priced from tokens); a cost on every third record.
    for (i, r) in records.iter_mut().enumerate() {
        r.as_object_mut().unwrap().remove("tokens_used");
        if i % 3 == 0 {
            r["cost_usd"] = json!(0.25 + i as f64 / 100.0);
        }
    }
    let h = Home::with_ledger("");
    std::fs::write(h.ledger(), serde_json::to_string_pretty(&records).unwrap()).unwrap();
    run(&h, &["learn"]);
    let html = h.path().join("r.html");
    run(
        &h,
        &[
            "learn",
            "report",
            "--format",
            "html",
            "--output",
            html.to_str().unwrap(),
        ],
    );
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(
        !text.contains("No data yet: cost appears"),
        "cost_usd is recorded"
    );
    let cost_svg = &text[text.find("class=\"chart cost\"").expect("a cost chart")..];
    let cost_svg = &cost_svg[..cost_svg.find("</svg>").unwrap()];
    assert!(cost_svg.contains("class=\"bar\""), "{cost_svg}");
    assert!(cost_svg.contains("per attempt"), "{cost_svg}");
    let md = run(&h, &["learn", "report"]);
    assert!(
        md.contains("| cost |") || md.contains("| cost / success | cost |"),
        "{md}"
    );
}
