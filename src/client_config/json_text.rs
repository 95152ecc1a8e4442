//! Edits `credHelpers` in the *text* of a JSON document, leaving every other
//! byte where it was.
//!
//! Parsing into a value and serialising it again would rewrite what other
//! tools wrote: `1e2` becomes `100.0`, a 23-digit integer loses digits, `-0`
//! becomes `-0.0`, `"\u00e9"` becomes `"é"`, a compact file gets indented.
//! So the document is only scanned for the byte ranges of the top-level
//! object's members and of `credHelpers`' members, and an edit splices text
//! into or out of those ranges. Two rules make `configure` then `--remove`
//! give back the exact bytes:
//!
//! - a member is added after the last one as `,` + the object's own leading
//!   whitespace + `"key"` + the object's own `:` spacing + value, and removing
//!   the last member cuts exactly from the end of the value before it;
//! - adding to an empty object `{ws}` keeps `ws` on both sides when there is
//!   any, else lays the member out like its parent (one indent deeper on its
//!   own line, or on one line in a compact file); removing the only member
//!   leaves `{ws}` when what surrounds it is the same on both sides, else `{}`.
//!
//! Only text `serde_json` already accepted is scanned, so the scanner checks
//! structure, not validity; it still never indexes out of bounds.

use std::ops::Range;

/// One `"key": value` of an object, as byte ranges of the document.
#[derive(Debug, Clone)]
pub(super) struct Member {
    /// The key, quotes included.
    pub key: Range<usize>,
    /// The value.
    pub value: Range<usize>,
}

/// An object's braces and members.
#[derive(Debug, Clone)]
pub(super) struct Object {
    /// The index of `{`.
    pub open: usize,
    /// The index of `}`.
    pub close: usize,
    /// The members in document order (duplicates included).
    pub members: Vec<Member>,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).copied().is_some_and(is_ws) {
        i += 1;
    }
    i
}

/// `i` is at `"`; returns the index after the closing quote.
fn skip_string(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        match *b.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// Returns the index after the value starting at `i`.
fn skip_value(b: &[u8], mut i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            loop {
                match *b.get(i)? {
                    b'"' => {
                        i = skip_string(b, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let start = i;
            while b
                .get(i)
                .is_some_and(|&c| !is_ws(c) && !matches!(c, b',' | b'}' | b']'))
            {
                i += 1;
            }
            (i > start).then_some(i)
        }
    }
}

/// The object whose `{` is at `open`.
pub(super) fn object_at(text: &str, open: usize) -> Option<Object> {
    let b = text.as_bytes();
    if b.get(open) != Some(&b'{') {
        return None;
    }
    let mut members = Vec::new();
    let mut i = skip_ws(b, open + 1);
    if b.get(i) == Some(&b'}') {
        return Some(Object {
            open,
            close: i,
            members,
        });
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = skip_string(b, i)?;
        let colon = skip_ws(b, key_end);
        if b.get(colon) != Some(&b':') {
            return None;
        }
        let value_start = skip_ws(b, colon + 1);
        let value_end = skip_value(b, value_start)?;
        members.push(Member {
            key: i..key_end,
            value: value_start..value_end,
        });
        let next = skip_ws(b, value_end);
        match b.get(next) {
            Some(b',') => i = skip_ws(b, next + 1),
            Some(b'}') => {
                return Some(Object {
                    open,
                    close: next,
                    members,
                });
            }
            _ => return None,
        }
    }
}

/// The decoded key of `member`.
pub(super) fn key_of(text: &str, member: &Member) -> Option<String> {
    serde_json::from_str(text.get(member.key.clone())?).ok()
}

/// The last member called `key` (the one JSON readers use).
pub(super) fn find(text: &str, object: &Object, key: &str) -> Option<Member> {
    object
        .members
        .iter()
        .rev()
        .find(|m| key_of(text, m).as_deref() == Some(key))
        .cloned()
}

/// How members are laid out in an object: what precedes the first key, and the `:` with its spaces.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    /// Whitespace between `{` and the first key (`"\n\t"` in docker's files, `""` when compact).
    pub lead: String,
    /// The separator between a key and its value (`": "` or `":"`).
    pub colon: String,
}

/// The layout of a non-empty object, or `None` for an empty one.
pub(super) fn layout_of(text: &str, object: &Object) -> Option<Layout> {
    let first = object.members.first()?;
    Some(Layout {
        lead: text.get(object.open + 1..first.key.start)?.to_string(),
        colon: text.get(first.key.end..first.value.start)?.to_string(),
    })
}

/// For a top-level object with no member: the layout its (imaginary) parent
/// has, so that [`append`] lays the first member out as docker does, and the
/// layout that gives the object itself.
pub(super) fn top_level_layouts() -> (Layout, Layout) {
    let layout = |lead: &str| Layout {
        lead: lead.to_string(),
        colon: ": ".to_string(),
    };
    (layout("\n"), layout("\n\t"))
}

/// Lead and trail for the first member of an empty object whose parent is laid out as `parent`.
fn nested(parent: &Layout) -> (String, String) {
    match parent.lead.rfind('\n') {
        Some(nl) => {
            let unit = match &parent.lead[nl + 1..] {
                "" => "\t",
                indent => indent,
            };
            (format!("{}{unit}", parent.lead), parent.lead.clone())
        }
        // Everything on one line: stay on one line.
        None => (String::new(), String::new()),
    }
}

/// The text of `member` (`"key": value`) with `colon`.
fn member_text(key: &str, colon: &str, value_json: &str) -> String {
    // Serialising a string cannot fail.
    let key = serde_json::to_string(key).unwrap_or_default();
    format!("{key}{colon}{value_json}")
}

/// Adds `key: value_json` at the end of `object`; `parent` lays out an empty object.
pub(super) fn append(
    text: &mut String,
    object: &Object,
    key: &str,
    value_json: &str,
    parent: &Layout,
) {
    match (object.members.last(), layout_of(text, object)) {
        (Some(last), Some(own)) => {
            let member = member_text(key, &own.colon, value_json);
            text.insert_str(last.value.end, &format!(",{}{member}", own.lead));
        }
        _ => {
            let member = member_text(key, &parent.colon, value_json);
            let inside = &text[object.open + 1..object.close];
            let (lead, trail) = if inside.is_empty() {
                nested(parent)
            } else {
                (inside.to_string(), inside.to_string())
            };
            text.replace_range(
                object.open + 1..object.close,
                &format!("{lead}{member}{trail}"),
            );
        }
    }
}

/// Removes `member` from `object`, with the comma and whitespace that belong to it.
pub(super) fn remove(text: &mut String, object: &Object, member: &Member) {
    let members = &object.members;
    let Some(index) = members.iter().position(|m| m.key == member.key) else {
        return;
    };
    let range = if members.len() == 1 {
        let lead = &text[object.open + 1..member.key.start];
        let trail = &text[member.value.end..object.close];
        let keep = if lead == trail {
            lead.to_string()
        } else {
            String::new()
        };
        text.replace_range(object.open + 1..object.close, &keep);
        return;
    } else if index + 1 == members.len() {
        members[index - 1].value.end..member.value.end
    } else {
        member.key.start..members[index + 1].key.start
    };
    text.replace_range(range, "");
}

/// Replaces `member`'s value with `value_json`.
pub(super) fn replace_value(text: &mut String, member: &Member, value_json: &str) {
    text.replace_range(member.value.clone(), value_json);
}

/// A new object holding one member, laid out as a child of `parent`.
pub(super) fn new_object(parent: &Layout, key: &str, value_json: &str) -> String {
    let (lead, trail) = nested(parent);
    format!(
        "{{{lead}{}{trail}}}",
        member_text(key, &parent.colon, value_json)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Object {
        object_at(text, 0).unwrap()
    }

    #[test]
    fn scans_members_of_any_layout() {
        let text = r#"{"a" : [1,{"b":"}"}], "c":"\"x\\" ,"d":-0}"#;
        let o = root(text);
        let keys: Vec<String> = o.members.iter().map(|m| key_of(text, m).unwrap()).collect();
        assert_eq!(keys, ["a", "c", "d"]);
        assert_eq!(&text[o.members[0].value.clone()], r#"[1,{"b":"}"}]"#);
        assert_eq!(&text[o.members[1].value.clone()], r#""\"x\\""#);
        assert_eq!(&text[o.members[2].value.clone()], "-0");
        assert_eq!(o.close, text.len() - 1);
    }

    #[test]
    fn append_then_remove_is_the_identity() {
        for original in [
            "{}",
            "{ }",
            "{\n}",
            "{\"a\":1}",
            "{ \"a\" : 1 }",
            "{\n\t\"a\": 1\n}",
            "{\r\n  \"a\": 1,\r\n  \"b\": {}\r\n}",
        ] {
            let mut text = original.to_string();
            let o = root(&text);
            let parent = layout_of(&text, &o).unwrap_or_else(|| top_level_layouts().0);
            append(&mut text, &o, "k", "\"v\"", &parent);
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["k"], "v", "{text}");
            let o = root(&text);
            let m = find(&text, &o, "k").unwrap();
            remove(&mut text, &o, &m);
            assert_eq!(text, original);
        }
    }

    #[test]
    fn new_members_follow_the_objects_layout() {
        let mut text = "{\n\t\"a\": 1\n}".to_string();
        let o = root(&text);
        let parent = layout_of(&text, &o).unwrap();
        let value = new_object(&parent, "h", "\"ecr\"");
        append(&mut text, &o, "credHelpers", &value, &parent);
        assert_eq!(
            text,
            "{\n\t\"a\": 1,\n\t\"credHelpers\": {\n\t\t\"h\": \"ecr\"\n\t}\n}"
        );
        let mut text = "{\"a\":1}".to_string();
        let o = root(&text);
        let parent = layout_of(&text, &o).unwrap();
        let value = new_object(&parent, "h", "\"ecr\"");
        append(&mut text, &o, "credHelpers", &value, &parent);
        assert_eq!(text, "{\"a\":1,\"credHelpers\":{\"h\":\"ecr\"}}");
    }
}
