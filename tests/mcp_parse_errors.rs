//! Issue 12 row 15: MCP lines that do not parse (not JSON, invalid UTF-8,
//! nested too deep, a `1e400` argument, longer than 16 MiB) each get a
//! JSON-RPC error reply (-32700 parse error, -32600 invalid request), and
//! the server keeps serving. Driven through the binary.
#![cfg(feature = "mcp")]

mod common;

use std::time::Duration;

use serde_json::{json, Value};

fn init() -> Vec<u8> {
    let mut s = String::new();
    for v in [
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    ] {
        s.push_str(&v.to_string());
        s.push('\n');
    }
    s.into_bytes()
}

fn tools_list(id: u64) -> Vec<u8> {
    let mut v = json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"})
        .to_string()
        .into_bytes();
    v.push(b'\n');
    v
}

/// Runs `modelfit mcp` on `input`; returns the replies (every stdout line
/// must be one JSON-RPC message).
fn serve(input: Vec<u8>) -> Vec<Value> {
    let home = common::Home::fixture();
    let out = home
        .cmd()
        .arg("mcp")
        .write_stdin(input)
        .timeout(Duration::from_secs(90))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("stdout is UTF-8")
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            assert_eq!(v["jsonrpc"], "2.0", "{l}");
            v
        })
        .collect()
}

fn by_id(replies: &[Value], id: u64) -> Vec<&Value> {
    replies.iter().filter(|r| r["id"] == json!(id)).collect()
}

fn code(r: &Value) -> i64 {
    r["error"]["code"].as_i64().unwrap_or_else(|| panic!("{r}"))
}

#[test]
fn every_hostile_line_gets_an_error_reply_and_the_server_keeps_serving() {
    let mut input = init();
    let mut expect_null: Vec<(&str, i64)> = Vec::new();
    let mut expect_id: Vec<(u64, i64)> = Vec::new();
    let line = |bytes: Vec<u8>, input: &mut Vec<u8>| {
        input.extend_from_slice(&bytes);
        input.push(b'\n');
    };

    line(b"this is not json".to_vec(), &mut input);
    expect_null.push(("not json", -32700));
    line(b"\xff\xfe\x00{\"jsonrpc\":\"2.0\"}".to_vec(), &mut input);
    expect_null.push(("invalid utf-8", -32700));
    let mut bad_utf8_in_string =
        br#"{"jsonrpc":"2.0","id":11,"method":"tools/list","x":""#.to_vec();
    bad_utf8_in_string.extend_from_slice(b"\xc3\x28\"}");
    line(bad_utf8_in_string, &mut input);
    expect_null.push(("invalid utf-8 in a string", -32700));
    line(
        format!(
            r#"{{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{{"name":"select_model","arguments":{{"task":{}1{}}}}}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        )
        .into_bytes(),
        &mut input,
    );
    expect_id.push((12, -32600));
    line(
        br#"{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"select_model","arguments":{"complexity":"simple","task":"x","estimated_files":1e400}}}"#.to_vec(),
        &mut input,
    );
    expect_id.push((13, -32600));
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":14,"method":"tools/call","params":{{"name":"select_model","arguments":{{"complexity":"simple","task":"{}"}}}}}}"#,
        "a".repeat(17 << 20)
    );
    line(huge.into_bytes(), &mut input);
    expect_null.push(("> 16 MiB", -32700));
    line(b"[]".to_vec(), &mut input);
    expect_null.push(("a batch", -32600));
    line(b"42".to_vec(), &mut input);
    expect_null.push(("a bare number", -32600));
    line(
        br#"{"jsonrpc":"1.0","id":15,"method":"tools/list"}"#.to_vec(),
        &mut input,
    );
    expect_id.push((15, -32600));
    line(
        br#"{"jsonrpc":"2.0","id":16,"method":7}"#.to_vec(),
        &mut input,
    );
    expect_id.push((16, -32600));
    line(b"{\"jsonrpc\":\"2.0\",\"id\":17,".to_vec(), &mut input);
    expect_null.push(("cut short", -32700));
    line(b"   ".to_vec(), &mut input); // blank: nothing to answer
    input.extend_from_slice(&tools_list(20));

    let replies = serve(input);
    for (id, c) in &expect_id {
        let r = by_id(&replies, *id);
        assert_eq!(r.len(), 1, "id {id}: {r:?}");
        assert_eq!(code(r[0]), *c, "id {id}: {}", r[0]);
    }
    let nulls: Vec<&Value> = replies.iter().filter(|r| r["id"].is_null()).collect();
    assert_eq!(
        nulls.len(),
        expect_null.len(),
        "one reply per line without a readable id: {nulls:?}"
    );
    let mut got: Vec<i64> = nulls.iter().map(|r| code(r)).collect();
    let mut want: Vec<i64> = expect_null.iter().map(|(_, c)| *c).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // And the server still serves.
    let list = by_id(&replies, 20);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["result"]["tools"].as_array().unwrap().len(), 7);
    // initialize + the expected errors + tools/list: nothing else.
    assert_eq!(
        replies.len(),
        1 + expect_id.len() + expect_null.len() + 1,
        "{replies:#?}"
    );
}

/// Random garbage lines (never blank), each followed by a valid request:
/// every garbage line gets exactly one error reply and every request its
/// answer, over many seeds.
#[test]
fn random_garbage_lines_each_get_one_reply_over_many_seeds() {
    let valid = br#"{"jsonrpc":"2.0","id":999,"method":"tools/list"}"#;
    for seed in 1..=6u64 {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut input = init();
        let n = 40;
        for i in 0..n {
            let garbage: Vec<u8> = match rnd() % 3 {
                // random bytes, no newline
                0 => (0..1 + rnd() % 200)
                    .map(|_| (rnd() % 256) as u8)
                    .map(|b| if b == b'\n' || b == b'\r' { b'x' } else { b })
                    .collect(),
                // a valid request cut short
                1 => valid[..1 + (rnd() as usize % (valid.len() - 2))].to_vec(),
                // a request with an id and a wrong-typed field
                _ => format!(
                    r#"{{"jsonrpc":"2.0","id":{},"method":{}}}"#,
                    5000 + i,
                    rnd() % 10
                )
                .into_bytes(),
            };
            let garbage = if garbage.iter().all(u8::is_ascii_whitespace) {
                b"#".to_vec()
            } else {
                garbage
            };
            input.extend_from_slice(&garbage);
            input.push(b'\n');
            input.extend_from_slice(&tools_list(100 + i));
        }
        let replies = serve(input);
        for i in 0..n {
            assert_eq!(
                by_id(&replies, 100 + i).len(),
                1,
                "seed {seed}: request {i}"
            );
        }
        let errors = replies.iter().filter(|r| r["error"].is_object()).count();
        assert_eq!(
            errors, n as usize,
            "seed {seed}: one error per garbage line"
        );
        assert_eq!(replies.len(), 1 + 2 * n as usize, "seed {seed}");
    }
}
