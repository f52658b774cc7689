//! Just enough JSON for the chat's frames: string literals out, one flat
//! object of string fields in.

use std::collections::HashMap;

/// `s` as a JSON string literal (quoted and escaped).
pub(crate) fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c < ' ' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The text of `{"type":"message","text":"…"}`: a flat object of string
/// fields, in any order. Anything else is `None`.
pub(crate) fn parse_message(json: &str) -> Option<String> {
    let mut chars = json.chars();
    let mut fields = HashMap::new();
    if token(&mut chars)? != '{' {
        return None;
    }
    loop {
        let key = string_literal(&mut chars)?;
        if token(&mut chars)? != ':' {
            return None;
        }
        fields.insert(key, string_literal(&mut chars)?);
        match token(&mut chars)? {
            ',' => continue,
            '}' if token(&mut chars).is_none() => break,
            _ => return None,
        }
    }
    let text = fields.remove("text")?.trim().to_owned();
    (fields.get("type")? == "message" && !text.is_empty()).then_some(text)
}

/// The next character that is not whitespace.
fn token(chars: &mut impl Iterator<Item = char>) -> Option<char> {
    chars.find(|c| !c.is_whitespace())
}

/// One string literal, unescaped.
fn string_literal(chars: &mut impl Iterator<Item = char>) -> Option<String> {
    if token(chars)? != '"' {
        return None;
    }
    let mut out = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => out.push(match chars.next()? {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                'b' => '\u{8}',
                'f' => '\u{c}',
                'u' => {
                    let first = hex4(chars)?;
                    let mut units = vec![first];
                    // A character past U+FFFF comes as a surrogate pair.
                    if (0xd800..0xdc00).contains(&first) {
                        if (chars.next()?, chars.next()?) != ('\\', 'u') {
                            return None;
                        }
                        units.push(hex4(chars)?);
                    }
                    char::decode_utf16(units).next()?.ok()?
                }
                c @ ('"' | '\\' | '/') => c,
                _ => return None,
            }),
            c if c < ' ' => return None,
            c => out.push(c),
        }
    }
}

/// The four hex digits of a `\u` escape.
fn hex4(chars: &mut impl Iterator<Item = char>) -> Option<u16> {
    (0..4).try_fold(0, |unit, _| {
        Some(unit * 16 + chars.next()?.to_digit(16)? as u16)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_in_any_layout() {
        let text = |json| parse_message(json);
        assert_eq!(text(r#"{"type":"message","text":"hi"}"#), Some("hi".into()));
        assert_eq!(
            text(" {\n \"text\" : \" hi \" , \"type\":\"message\" } "),
            Some("hi".into())
        );
        assert_eq!(
            text(r#"{"type":"message","text":"a\"b\\c\/d\n\u00e9\ud83c\udf89"}"#),
            Some("a\"b\\c/d\né🎉".into())
        );
    }

    #[test]
    fn anything_else_is_none() {
        for json in [
            "",
            "hi",
            "{",
            "{}",
            r#"{"type":"message"}"#,
            r#"{"text":"hi"}"#,
            r#"{"type":"other","text":"hi"}"#,
            r#"{"type":"message","text":"  "}"#,
            r#"{"type":"message","text":42}"#,
            r#"{"type":"message","text":"hi"} x"#,
            r#"{"type":"message","text":"hi",}"#,
            r#"{"type":"message","text":"hi""#,
            r#"{"type":"message","text":"\x"}"#,
            r#"{"type":"message","text":"\u12"}"#,
            r#"{"type":"message","text":"\u+041"}"#,
            r#"{"type":"message","text":"\ud800"}"#,
            r#"{"type":"message","text":"\ud800\u0041"}"#,
            r#"{"type":"message","text":"\udc00"}"#,
            "{\"type\":\"message\",\"text\":\"a\nb\"}",
        ] {
            assert_eq!(parse_message(json), None, "{json}");
        }
    }

    #[test]
    fn a_string_comes_back_as_it_went() {
        let s = "quote \" backslash \\ newline \n nul \0 <b>é🎉</b>";
        let json = format!(r#"{{"type":"message","text":{}}}"#, string(s));
        assert!(!json.contains('\n') && !json.contains('\0'));
        assert_eq!(parse_message(&json), Some(s.trim().into()));
    }
}
