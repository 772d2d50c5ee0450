//! A line filter in front of rmcp's stdio transport: every line a client
//! sends gets a reply, even when it cannot be served.
//!
//! rmcp ignores lines that are not JSON (and lines it cannot decode, such as
//! invalid UTF-8, a number out of range or nesting too deep), so a client
//! that sent a request with an id waits forever. This filter reads stdin
//! itself, line by line (at most [`MAX_LINE`] bytes each), answers the lines
//! that cannot be served with a JSON-RPC error — `-32700` (parse error) when
//! the line is not JSON, `-32600` (invalid request) when it is JSON but not a
//! request modelfit can read, with the request's id when it has one — and
//! hands every other line to rmcp unchanged. Both rmcp's replies and the
//! filter's go to stdout whole, one line at a time, under one lock.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::Mutex;

/// The longest line served, its newline included: 16 MiB, rmcp's own limit
/// (longer lines are answered with -32700).
pub const MAX_LINE: usize = 16 << 20;

/// JSON-RPC: the line is not valid JSON.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC: valid JSON, but not a valid request.
pub const INVALID_REQUEST: i64 = -32600;

/// What to do with one line from the client.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Hand it to rmcp as is.
    Forward,
    /// Nothing to do (a blank line).
    Skip,
    /// Answer with this JSON-RPC error reply (one line, no newline).
    Reply(String),
}

/// The JSON-RPC envelope, read without building the rest of the message:
/// serde skips the other fields checking only their syntax, so a huge or
/// deeply nested `params` does not stop the id from being read.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    jsonrpc: Option<Value>,
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    method: Option<Value>,
    #[serde(default)]
    result: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
}

fn reply(code: i64, message: &str, id: Option<&Value>) -> Verdict {
    let id = match id {
        Some(v @ (Value::String(_) | Value::Number(_))) => v.clone(),
        _ => Value::Null,
    };
    Verdict::Reply(
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
            .to_string(),
    )
}

/// Decides what to do with one line (without its newline).
pub fn judge(line: &[u8]) -> Verdict {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Verdict::Skip;
    }
    let Ok(text) = std::str::from_utf8(line) else {
        return reply(
            PARSE_ERROR,
            "Parse error: the line is not valid UTF-8",
            None,
        );
    };
    let first = text.trim_start().as_bytes().first().copied();
    if first != Some(b'{') {
        // An array (a batch, which MCP does not use) or a bare value.
        return match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => reply(
                INVALID_REQUEST,
                "Invalid Request: a JSON-RPC message must be one JSON object (batches are not supported)",
                None,
            ),
            Err(e) => reply(PARSE_ERROR, &format!("Parse error: {e}"), None),
        };
    }
    let env: Envelope = match serde_json::from_str(text) {
        Ok(e) => e,
        Err(e) if e.is_syntax() || e.is_eof() => {
            return reply(PARSE_ERROR, &format!("Parse error: {e}"), None)
        }
        // The envelope's own fields are odd (an id that is an object, a
        // number out of range in the id, …): the object itself is JSON.
        Err(e) => return reply(INVALID_REQUEST, &format!("Invalid Request: {e}"), None),
    };
    let id = env.id.as_ref();
    if env.jsonrpc.as_ref().and_then(Value::as_str) != Some("2.0") {
        return reply(
            INVALID_REQUEST,
            "Invalid Request: \"jsonrpc\" must be \"2.0\"",
            id,
        );
    }
    let is_response = env.result.is_some() || env.error.is_some();
    match &env.method {
        Some(Value::String(_)) => {}
        None if is_response => {}
        _ => {
            return reply(
                INVALID_REQUEST,
                "Invalid Request: \"method\" must be a string",
                id,
            )
        }
    }
    if let Some(bad) = id.filter(|v| !matches!(v, Value::String(_) | Value::Number(_))) {
        return reply(
            INVALID_REQUEST,
            &format!("Invalid Request: \"id\" must be a string or a number, not {bad}"),
            None,
        );
    }
    // The whole message as rmcp will decode it: a number out of range or
    // nesting deeper than 128 levels anywhere fails here, with the id known.
    if let Err(e) = serde_json::from_str::<rmcp::model::ClientJsonRpcMessage>(text) {
        if id.is_none() && !is_response {
            // A notification: rmcp skips the ones it does not know itself,
            // and a notification gets no reply in JSON-RPC.
            return Verdict::Forward;
        }
        return reply(INVALID_REQUEST, &format!("Invalid Request: {e}"), id);
    }
    Verdict::Forward
}

/// Reads `input` line by line: lines to serve go to `to_server`; the others
/// are answered on `out` (under its lock). Closes `to_server` at the end of
/// input, so the server sees the client leave.
pub async fn filter<R, W, O>(input: R, mut to_server: W, out: Arc<Mutex<O>>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
    O: AsyncWrite + Unpin,
{
    let mut input = BufReader::with_capacity(1 << 16, input);
    let mut line = Vec::with_capacity(1 << 12);
    loop {
        line.clear();
        // At most MAX_LINE bytes: a line that has no newline by then is too long.
        let read = (&mut input)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await;
        match read {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let ended = line.last() == Some(&b'\n');
        let verdict = if line.len() >= MAX_LINE && !ended {
            // Drop the rest of the line, in bounded pieces.
            let mut rest = Vec::with_capacity(1 << 16);
            loop {
                rest.clear();
                match (&mut input)
                    .take(1 << 16)
                    .read_until(b'\n', &mut rest)
                    .await
                {
                    Ok(0) | Err(_) => break,
                    Ok(_) if rest.last() == Some(&b'\n') => break,
                    Ok(_) => {}
                }
            }
            reply(
                PARSE_ERROR,
                &format!(
                    "Parse error: the line is longer than {} MiB",
                    MAX_LINE >> 20
                ),
                None,
            )
        } else {
            let body = line.strip_suffix(b"\n").unwrap_or(&line);
            judge(body)
        };
        match verdict {
            Verdict::Skip => {}
            Verdict::Forward => {
                if !ended {
                    line.push(b'\n');
                }
                if to_server.write_all(&line).await.is_err() || to_server.flush().await.is_err() {
                    break;
                }
            }
            Verdict::Reply(text) => {
                tracing::warn!("{}", text);
                let mut o = out.lock().await;
                let _ = o.write_all(format!("{text}\n").as_bytes()).await;
                let _ = o.flush().await;
            }
        }
    }
    let _ = to_server.shutdown().await;
}

/// Copies the server's output to `out` one whole line at a time (under its
/// lock, so the filter's replies never land inside one), until the server
/// closes its side.
pub async fn pump<R, O>(from_server: R, out: Arc<Mutex<O>>)
where
    R: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
{
    let mut from_server = BufReader::new(from_server);
    let mut line = Vec::new();
    loop {
        line.clear();
        match from_server.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let mut o = out.lock().await;
                if o.write_all(&line).await.is_err() || o.flush().await.is_err() {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(v: &Verdict) -> (i64, Value) {
        match v {
            Verdict::Reply(t) => {
                let v: Value = serde_json::from_str(t).unwrap();
                (v["error"]["code"].as_i64().unwrap(), v["id"].clone())
            }
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn lines_that_cannot_be_served_get_the_right_code_and_id() {
        assert_eq!(code(&judge(b"not json")).0, PARSE_ERROR);
        assert_eq!(code(&judge(b"{\"a\":")).0, PARSE_ERROR);
        assert_eq!(code(&judge(b"\xff\xfe{}")).0, PARSE_ERROR);
        assert_eq!(code(&judge(b"[1,2]")).0, INVALID_REQUEST);
        assert_eq!(code(&judge(b"42")).0, INVALID_REQUEST);
        assert_eq!(
            code(&judge(br#"{"jsonrpc":"2.0","id":7}"#)),
            (INVALID_REQUEST, json!(7))
        );
        let big = br#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"x","arguments":{"n":1e400}}}"#;
        assert_eq!(code(&judge(big)), (INVALID_REQUEST, json!("a")));
        let deep = format!(
            r#"{{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{}{}}}"#,
            "[".repeat(5000),
            "]".repeat(5000)
        );
        assert_eq!(code(&judge(deep.as_bytes())), (INVALID_REQUEST, json!(3)));
        assert_eq!(judge(b"  \r"), Verdict::Skip);
        assert_eq!(
            judge(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#),
            Verdict::Forward
        );
    }
}
