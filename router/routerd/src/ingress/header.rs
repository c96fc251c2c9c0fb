//! Header extraction from the signed element of a verified message.
//!
//! Reads only the element `xoev_dsig::Verified` exposes. Text is the concatenation of all text
//! children (comments skipped), so a comment spliced into a signed value cannot shorten it.

use uuid::Uuid;
use xoev_core::header::{HEADER_ELEMENT, HEADER_NAMESPACES, parse_xs_datetime};
use xoev_core::{Header, Kennung, Problem, ProblemType};
use xoev_xml::Element;

fn invalid(field: &str, detail: String) -> Problem {
    Problem::new(ProblemType::InvalidHeader, detail).with("field", field)
}

fn is_header(el: &Element<'_>) -> bool {
    el.local_name() == HEADER_ELEMENT
        && el
            .namespace()
            .is_none_or(|ns| HEADER_NAMESPACES.contains(&ns))
}

/// Extracts and checks the `nachrichtenkopf.g2g` of the message whose root is `root`.
pub fn extract(root: Element<'_>) -> Result<Header, Problem> {
    let mut headers = root.child_elements().filter(is_header);
    let header = headers.next().ok_or_else(|| {
        invalid(
            HEADER_ELEMENT,
            format!(
                "the root element {} has no {HEADER_ELEMENT} child",
                root.local_name()
            ),
        )
    })?;
    // A second header anywhere is refused: routing must never have two candidates.
    if let Some(second) = root
        .descendants()
        .filter(is_header)
        .find(|h| h.id() != header.id())
    {
        let p = second.position();
        return Err(invalid(
            HEADER_ELEMENT,
            format!(
                "a second {HEADER_ELEMENT} at line {}, column {}",
                p.line, p.column
            ),
        ));
    }
    let ns = header.namespace();
    let ident = child(
        header,
        ns,
        "identifikation.nachricht",
        "identifikation.nachricht",
    )?
    .ok_or_else(|| {
        invalid(
            "identifikation.nachricht",
            "identifikation.nachricht is missing".into(),
        )
    })?;
    let uuid_text = required_text(ident, ns, "nachrichtenUUID", "nachrichtenUUID")?;
    let nachrichten_uuid = parse_uuid(&uuid_text, "nachrichtenUUID")?;
    let typ_el = child(ident, ns, "nachrichtentyp", "nachrichtentyp")?
        .ok_or_else(|| invalid("nachrichtentyp", "nachrichtentyp is missing".into()))?;
    let nachrichtentyp = required_text(typ_el, ns.or(None), "code", "nachrichtentyp/code")?;
    let erstellungszeitpunkt =
        required_text(ident, ns, "erstellungszeitpunkt", "erstellungszeitpunkt")?;
    if parse_xs_datetime(&erstellungszeitpunkt).is_none() {
        return Err(invalid(
            "erstellungszeitpunkt",
            format!("erstellungszeitpunkt '{erstellungszeitpunkt}' is not an xs:dateTime"),
        ));
    }
    let leser = kennung(header, ns, "leser")?;
    let autor = kennung(header, ns, "autor")?;
    let referenz_uuid = match child(header, ns, "referenzUUID", "referenzUUID")? {
        Some(el) => Some(parse_uuid(
            &simple_text(el, "referenzUUID")?,
            "referenzUUID",
        )?),
        None => None,
    };
    let dvdv_dienstkennung = match child(header, ns, "dvdvDienstkennung", "dvdvDienstkennung")? {
        Some(el) => Some(simple_text(el, "dvdvDienstkennung")?),
        None => None,
    };
    Ok(Header {
        nachrichten_uuid,
        nachrichtentyp,
        erstellungszeitpunkt,
        leser,
        autor,
        referenz_uuid,
        dvdv_dienstkennung,
    })
}

/// The unique child `local` of `parent` (unqualified, or in the header's namespace).
fn child<'d>(
    parent: Element<'d>,
    ns: Option<&str>,
    local: &str,
    field: &str,
) -> Result<Option<Element<'d>>, Problem> {
    let mut found = parent
        .child_elements()
        .filter(|c| c.local_name() == local && (c.namespace().is_none() || c.namespace() == ns));
    let first = found.next();
    if first.is_some() && found.next().is_some() {
        return Err(invalid(field, format!("{field} appears more than once")));
    }
    Ok(first)
}

/// Text content of an element that must not contain elements, whitespace-collapsed.
fn simple_text(el: Element<'_>, field: &str) -> Result<String, Problem> {
    if el.child_elements().next().is_some() {
        return Err(invalid(field, format!("{field} must contain text only")));
    }
    let collapsed = el
        .text()
        .split_ascii_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    Ok(collapsed)
}

fn required_text(
    parent: Element<'_>,
    ns: Option<&str>,
    local: &str,
    field: &str,
) -> Result<String, Problem> {
    let el = child(parent, ns, local, field)?
        .ok_or_else(|| invalid(field, format!("{field} is missing")))?;
    let text = simple_text(el, field)?;
    if text.is_empty() {
        return Err(invalid(field, format!("{field} is empty")));
    }
    Ok(text)
}

fn kennung(header: Element<'_>, ns: Option<&str>, role: &str) -> Result<Kennung, Problem> {
    let field = format!("{role}/kennung");
    let el = child(header, ns, role, role)?
        .ok_or_else(|| invalid(role, format!("{role} is missing")))?;
    let text = required_text(el, ns, "kennung", &field)?;
    Kennung::parse(&text).map_err(|e| invalid(&field, format!("{field}: {e}")))
}

/// XÖV UUIDs are the 36-character hyphenated form; other spellings uuid accepts are refused.
fn parse_uuid(text: &str, field: &str) -> Result<Uuid, Problem> {
    let ok = text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    if !ok {
        return Err(invalid(
            field,
            format!("{field} '{text}' is not a UUID (8-4-4-4-12 hex digits)"),
        ));
    }
    Uuid::parse_str(text).map_err(|e| invalid(field, format!("{field} '{text}': {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_of(xml: &str) -> Result<Header, Problem> {
        let doc = xoev_xml::parse(xml.as_bytes(), &xoev_xml::Limits::default()).unwrap();
        extract(doc.root())
    }

    fn msg(kopf: &str) -> String {
        format!(
            "<m:msg xmlns:m=\"urn:x\"><nachrichtenkopf.g2g>{kopf}</nachrichtenkopf.g2g><m:body/></m:msg>"
        )
    }

    const IDENT: &str = "<identifikation.nachricht><nachrichtenUUID>0b6e2f54-1c3d-4a8b-9f7e-5d2c1a0b9e88</nachrichtenUUID><nachrichtentyp listURI=\"u\" listVersionID=\"1\"><code> 2030 </code></nachrichtentyp><erstellungszeitpunkt>2026-04-02T08:30:00Z</erstellungszeitpunkt></identifikation.nachricht>";
    const LESER: &str = "<leser><kennung>ags:08111000</kennung></leser>";
    const AUTOR: &str = "<autor><kennung>psw:01003110</kennung></autor>";

    #[test]
    fn extracts_every_routing_field() {
        let h = header_of(&msg(&format!(
            "{IDENT}{LESER}{AUTOR}<referenzUUID>5e08e073-4e06-438d-9444-1275f6cbf061</referenzUUID>"
        )))
        .unwrap();
        assert_eq!(
            h.nachrichten_uuid.to_string(),
            "0b6e2f54-1c3d-4a8b-9f7e-5d2c1a0b9e88"
        );
        assert_eq!(h.nachrichtentyp, "2030");
        assert_eq!(h.leser.as_str(), "ags:08111000");
        assert_eq!(h.autor.as_str(), "psw:01003110");
        assert!(h.referenz_uuid.is_some());
    }

    #[test]
    fn accepts_a_header_in_the_g2g_namespace_with_qualified_children() {
        let xml = format!(
            "<msg xmlns:g=\"http://xoev.de/schemata/basisnachricht/g2g/1_0\"><g:nachrichtenkopf.g2g>{}</g:nachrichtenkopf.g2g></msg>",
            format!("{IDENT}{LESER}{AUTOR}")
                .replace('<', "<g:")
                .replace("<g:/", "</g:")
        );
        let h = header_of(&xml).unwrap();
        assert_eq!(h.leser.as_str(), "ags:08111000");
    }

    #[test]
    fn reads_the_whole_text_when_a_comment_splits_a_value() {
        let h = header_of(&msg(&format!(
            "{IDENT}<leser><kennung>ags:08<!-- x -->111000</kennung></leser>{AUTOR}"
        )))
        .unwrap();
        assert_eq!(h.leser.as_str(), "ags:08111000");
    }

    #[test]
    fn rejects_missing_header_naming_it() {
        let e = header_of("<m:msg xmlns:m=\"urn:x\"/>").unwrap_err();
        assert_eq!(e.kind, ProblemType::InvalidHeader);
        assert_eq!(e.extensions["field"], "nachrichtenkopf.g2g");
    }

    #[test]
    fn rejects_a_second_header_nested_in_the_body() {
        let kopf = format!("{IDENT}{LESER}{AUTOR}");
        let xml = format!(
            "<m:msg xmlns:m=\"urn:x\"><nachrichtenkopf.g2g>{kopf}</nachrichtenkopf.g2g><m:body><nachrichtenkopf.g2g>{kopf}</nachrichtenkopf.g2g></m:body></m:msg>"
        );
        let e = header_of(&xml).unwrap_err();
        assert!(
            e.detail
                .starts_with("a second nachrichtenkopf.g2g at line 1"),
            "{}",
            e.detail
        );
    }

    #[test]
    fn rejects_bad_uuid_naming_the_field() {
        let e = header_of(&msg(&format!(
            "{}{LESER}{AUTOR}",
            IDENT.replace("0b6e2f54-", "{0b6e2f54-")
        )))
        .unwrap_err();
        assert_eq!(e.extensions["field"], "nachrichtenUUID");
    }

    #[test]
    fn rejects_kennung_without_prefix_naming_the_field() {
        let e = header_of(&msg(&format!(
            "{IDENT}<leser><kennung>08111000</kennung></leser>{AUTOR}"
        )))
        .unwrap_err();
        assert_eq!(e.extensions["field"], "leser/kennung");
    }

    #[test]
    fn rejects_missing_nachrichtentyp_and_bad_timestamp() {
        let no_typ = IDENT.replace("<nachrichtentyp listURI=\"u\" listVersionID=\"1\"><code> 2030 </code></nachrichtentyp>", "");
        let e = header_of(&msg(&format!("{no_typ}{LESER}{AUTOR}"))).unwrap_err();
        assert_eq!(e.extensions["field"], "nachrichtentyp");
        let bad_time = IDENT.replace("2026-04-02T08:30:00Z", "02.04.2026");
        let e = header_of(&msg(&format!("{bad_time}{LESER}{AUTOR}"))).unwrap_err();
        assert_eq!(e.extensions["field"], "erstellungszeitpunkt");
    }

    #[test]
    fn rejects_duplicate_leser() {
        let e = header_of(&msg(&format!("{IDENT}{LESER}{LESER}{AUTOR}"))).unwrap_err();
        assert_eq!(e.detail, "leser appears more than once");
    }
}
