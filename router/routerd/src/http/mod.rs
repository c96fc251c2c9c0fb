//! HTTP: the accept loop, the public API and the admin API.

pub mod admin;
pub mod mailbox;
pub mod public;
pub mod response;
pub mod server;

use std::collections::HashMap;

/// Decodes `%XX` escapes (path segments and query values); invalid escapes stay as they are.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `a=1&b=2` → map (values percent-decoded, `+` as space).
pub fn parse_query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(&v.replace('+', " "))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_keeps_invalid_ones() {
        assert_eq!(percent_decode("ags%3A08111000"), "ags:08111000");
        assert_eq!(percent_decode("a%zz%4"), "a%zz%4");
        assert_eq!(parse_query("leser=ags%3a08*&x=1")["leser"], "ags:08*");
    }
}
