//! Lone UTF-16 surrogate escapes (`"\ud83d"` without its pair). JavaScript
//! writes and reads them (`JSON.parse` keeps the lone code unit); serde_json
//! refuses them. modelfit reads such a string with U+FFFD in its place and
//! never rewrites the record unless it edits it.

/// `raw` with every lone surrogate escape replaced by `\ufffd`, or `None`
/// when it has none.
pub fn replace_lone(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    let mut copied = 0;
    while i < raw.len() {
        if raw[i] != b'\\' {
            i += 1;
            continue;
        }
        let Some(unit) = escape_at(raw, i) else {
            i += 2;
            continue;
        };
        let lone = match unit {
            0xD800..=0xDBFF => match escape_at(raw, i + 6) {
                Some(0xDC00..=0xDFFF) => {
                    i += 12;
                    continue;
                }
                _ => true,
            },
            0xDC00..=0xDFFF => true,
            _ => false,
        };
        if lone {
            let o = out.get_or_insert_with(|| Vec::with_capacity(raw.len()));
            o.extend_from_slice(&raw[copied..i]);
            o.extend_from_slice(b"\\ufffd");
            copied = i + 6;
        }
        i += 6;
    }
    out.map(|mut o| {
        o.extend_from_slice(&raw[copied..]);
        o
    })
}

/// The code unit of a `\uXXXX` escape at `i`.
fn escape_at(raw: &[u8], i: usize) -> Option<u32> {
    if raw.get(i) != Some(&b'\\') || raw.get(i + 1) != Some(&b'u') {
        return None;
    }
    let hex = std::str::from_utf8(raw.get(i + 2..i + 6)?).ok()?;
    u32::from_str_radix(hex, 16).ok()
}

/// Whether `raw` holds a lone surrogate escape.
pub fn has_lone(raw: &[u8]) -> bool {
    replace_lone(raw).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lone_halves_are_replaced() {
        assert_eq!(
            replace_lone(br#""a\ud83db""#).unwrap(),
            br#""a\ufffdb""#.to_vec()
        );
        assert_eq!(replace_lone(br#""\ud83d\ude00""#), None);
        assert_eq!(replace_lone(br#""\\ud83d""#), None);
        assert_eq!(
            replace_lone(br#""\ude00\ud83d""#).unwrap(),
            br#""\ufffd\ufffd""#.to_vec()
        );
    }
}

/// `raw` with every number too large for a double (`1e400`, which
/// JavaScript reads as `Infinity`) replaced by the largest finite double of
/// its sign, or `None` when it has none. Strings are left alone.
pub fn clamp_huge_numbers(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let (mut i, mut copied, mut in_string, mut escaped) = (0, 0, false, false);
    while i < raw.len() {
        let b = raw[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        if b == b'-' || b.is_ascii_digit() {
            let start = i;
            while i < raw.len() && matches!(raw[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
            {
                i += 1;
            }
            let text = std::str::from_utf8(&raw[start..i]).unwrap_or("0");
            if text.parse::<f64>().is_ok_and(f64::is_infinite) {
                let o = out.get_or_insert_with(|| Vec::with_capacity(raw.len()));
                o.extend_from_slice(&raw[copied..start]);
                if text.starts_with('-') {
                    o.push(b'-');
                }
                o.extend_from_slice(b"1.7976931348623157e308");
                copied = i;
            }
            continue;
        }
        i += 1;
    }
    out.map(|mut o| {
        o.extend_from_slice(&raw[copied..]);
        o
    })
}

#[cfg(test)]
mod number_tests {
    #[test]
    fn huge_numbers_outside_strings_only() {
        let r = super::clamp_huge_numbers(br#"{"a": 1e400, "b": "1e400", "c": -2E999, "d": 1E5}"#)
            .unwrap();
        assert_eq!(
            String::from_utf8(r).unwrap(),
            r#"{"a": 1.7976931348623157e308, "b": "1e400", "c": -1.7976931348623157e308, "d": 1E5}"#
        );
        assert!(super::clamp_huge_numbers(b"[1, 2.5e10]").is_none());
    }
}
