//! `xs:anyURI`, checked as libxml2 2.9 does: characters a URI cannot contain literally (controls,
//! space, non-ASCII, `<>"{}|\^`'`) are first replaced by a harmless one (so they are allowed),
//! then the result must be an RFC 3986 URI-reference. `%` must start a two-digit escape, a
//! scheme must start with a letter, a port is digits only, and `#` appears at most once.

fn replaced(c: u8) -> u8 {
    if c <= 0x20 || c >= 0x7F || b"<>\"{}|\\^`'".contains(&c) {
        b'_'
    } else {
        c
    }
}

/// Whether `s` (already whitespace-collapsed) is an acceptable anyURI.
pub(crate) fn is_any_uri(s: &str) -> bool {
    let needs_replacing = s.bytes().any(|c| replaced(c) != c);
    let b: std::borrow::Cow<'_, [u8]> = if needs_replacing {
        s.bytes().map(replaced).collect::<Vec<u8>>().into()
    } else {
        s.as_bytes().into()
    };
    absolute(&b) || relative(&b)
}

fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(c: u8) -> bool {
    matches!(
        c,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// Length of a `%XX` escape at the start of `b`, or 0.
fn pct(b: &[u8]) -> usize {
    match b {
        [b'%', h, l, ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => 3,
        _ => 0,
    }
}

/// Consumes characters while `allowed` accepts them (and `%XX` escapes); None on a bad `%`.
fn run(b: &[u8], allowed: impl Fn(u8) -> bool) -> Option<usize> {
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let n = pct(b.get(i..)?);
            if n == 0 {
                return None;
            }
            i += n;
        } else if allowed(c) {
            i += 1;
        } else {
            break;
        }
    }
    Some(i)
}

fn pchar(c: u8) -> bool {
    is_unreserved(c) || is_sub_delim(c) || c == b':' || c == b'@'
}

/// `[ "?" query ] [ "#" fragment ]` covering all of `b`.
fn query_fragment(b: &[u8]) -> bool {
    let mut i = 0;
    if b.first() == Some(&b'?') {
        match run(&b[1..], |c| pchar(c) || c == b'/' || c == b'?') {
            Some(n) => i = 1 + n,
            None => return false,
        }
    }
    if b.get(i) == Some(&b'#') {
        match b
            .get(i + 1..)
            .and_then(|rest| run(rest, |c| pchar(c) || c == b'/' || c == b'?'))
        {
            Some(n) => i += 1 + n,
            None => return false,
        }
    }
    i == b.len()
}

/// `authority path-abempty`, returning the consumed length.
fn authority_and_path(b: &[u8]) -> Option<usize> {
    // The authority ends at the first '/', '?' or '#'.
    let end = b
        .iter()
        .position(|c| matches!(c, b'/' | b'?' | b'#'))
        .unwrap_or(b.len());
    let auth = b.get(..end)?;
    let host_part = match auth.iter().rposition(|&c| c == b'@') {
        Some(at) => {
            let userinfo = auth.get(..at)?;
            if run(userinfo, |c| {
                is_unreserved(c) || is_sub_delim(c) || c == b':'
            })? != userinfo.len()
            {
                return None;
            }
            auth.get(at + 1..)?
        }
        None => auth,
    };
    let port_start = if host_part.first() == Some(&b'[') {
        let close = host_part.iter().position(|&c| c == b']')?;
        close + 1
    } else {
        run(host_part, |c| is_unreserved(c) || is_sub_delim(c))?
    };
    match host_part.get(port_start..)? {
        [] => {}
        [b':', port @ ..] if port.iter().all(u8::is_ascii_digit) => {}
        _ => return None,
    }
    let path = run(b.get(end..)?, |c| pchar(c) || c == b'/')?;
    Some(end + path)
}

/// `scheme ":" hier-part [ "?" query ] [ "#" fragment ]`.
fn absolute(b: &[u8]) -> bool {
    let Some(colon) = b.iter().position(|&c| c == b':') else {
        return false;
    };
    let scheme = &b[..colon];
    let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return false;
    }
    let rest = &b[colon + 1..];
    let consumed = if let Some(after) = rest.strip_prefix(b"//") {
        match authority_and_path(after) {
            Some(n) => 2 + n,
            None => return false,
        }
    } else {
        match run(rest, |c| pchar(c) || c == b'/') {
            Some(n) => n,
            None => return false,
        }
    };
    query_fragment(&rest[consumed..])
}

/// `relative-part [ "?" query ] [ "#" fragment ]`; the first segment of a scheme-less path may
/// not contain a colon.
fn relative(b: &[u8]) -> bool {
    let consumed = if let Some(after) = b.strip_prefix(b"//") {
        match authority_and_path(after) {
            Some(n) => 2 + n,
            None => return false,
        }
    } else {
        let first = match run(b, |c| pchar(c) && c != b':') {
            Some(n) => n,
            None => return false,
        };
        if b.get(first) == Some(&b':') {
            return false;
        }
        match run(&b[first..], |c| pchar(c) || c == b'/') {
            Some(n) => first + n,
            None => return false,
        }
    };
    query_fragment(&b[consumed..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_uris_libxml2_accepts() {
        for ok in [
            "http://x/",
            "http://x/ y",
            "a%20b",
            "#frag",
            "?q",
            "http://x/<y>",
            "a:",
            "//x",
            "",
            "http://exämple.org/",
            "urn:xoev-de:xwasser:codeliste:nachrichtentyp",
            "http://[::1]/",
            "http://x:80/",
            "a#b c",
            "mailto:a@b.de",
            "../x/y.xsd",
            "http://u:p@h:8/p?q#f",
        ] {
            assert!(is_any_uri(ok), "{ok:?}");
        }
    }

    #[test]
    fn rejects_uris_libxml2_rejects() {
        for bad in [
            "%zz",
            "a%2",
            "%",
            "http://[::1",
            "a#b#c",
            "::",
            ":",
            "1a:b",
            "http://x:8a/",
        ] {
            assert!(!is_any_uri(bad), "{bad:?}");
        }
    }
}
