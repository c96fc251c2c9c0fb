//! The message the corpus is made of: an XWasser `vorgang.nachricht.2020` (free message with a
//! PDF attachment), valid against `schemas/`. Its size is set by the length of the attachment's
//! base64 content, wrapped at 76 characters per line as MIME encoders write it.
//!
//! The smallest messages (the "2 KiB" class) do not fit a header, a signature and an
//! attachment: they are written without indentation and without free text and attachment
//! ([`Shape::Minimal`]).

use base64::Engine as _;
use rand::{Rng, RngCore};
use uuid::Uuid;

/// XWasser 1.0.0 namespace.
pub const XWASSER_NS: &str = "https://gitlab.opencode.de/akdb/xoev/xwasser/-/raw/main/V1_0_0";

/// Characters per line of the wrapped base64 attachment.
pub const BASE64_LINE: usize = 76;

/// What varies between messages.
#[derive(Clone, Debug)]
pub struct MessageFields {
    /// `nachrichtenUUID` (the idempotency key).
    pub id: Uuid,
    /// `leser/kennung`, e.g. `ags:08111000`.
    pub leser: String,
    /// `autor/kennung`, e.g. `psw:01003110`.
    pub autor: String,
    /// `vorgangsID`.
    pub vorgang: Uuid,
    /// Case number inside the free text (fixed width).
    pub case_no: u32,
    /// Attachment bytes before base64.
    pub attachment: Vec<u8>,
    /// Layout.
    pub shape: Shape,
    /// `erstellungszeitpunkt`: the start of the current UTC day, so a corpus stays acceptable
    /// (the router refuses messages older than its deduplication window) and keeps a fixed
    /// length.
    pub created: String,
}

/// Today's date (UTC), `YYYY-MM-DD`: part of every corpus's cache key, so cached corpora are
/// rebuilt daily and never carry stale timestamps.
pub fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// How the message is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// Indented, with free text and the attachment.
    Full,
    /// No indentation, no free text, no attachment: the smallest valid 2020 message.
    Minimal,
}

impl MessageFields {
    /// Fields drawn from `rng`, with `attachment_len` random attachment bytes that start like
    /// a PDF file.
    pub fn random(
        rng: &mut impl RngCore,
        leser: String,
        autor: String,
        attachment_len: usize,
    ) -> Self {
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        let mut vorgang = [0u8; 16];
        rng.fill_bytes(&mut vorgang);
        let mut attachment = vec![0u8; attachment_len];
        rng.fill_bytes(&mut attachment);
        const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n";
        for (a, p) in attachment.iter_mut().zip(PDF) {
            *a = *p;
        }
        MessageFields {
            id: uuid::Builder::from_random_bytes(id).into_uuid(),
            leser,
            autor,
            vorgang: uuid::Builder::from_random_bytes(vorgang).into_uuid(),
            case_no: rng.random_range(0..1_000_000),
            attachment,
            shape: Shape::Full,
            created: format!("{}T00:00:00+00:00", today()),
        }
    }
}

/// Base64 of `bytes`, a newline after every [`BASE64_LINE`] characters (none at the end).
pub fn wrapped_base64(bytes: &[u8]) -> String {
    let flat = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(flat.len() + flat.len() / BASE64_LINE + 1);
    for (i, chunk) in flat.as_bytes().chunks(BASE64_LINE).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
    }
    out
}

/// Length of [`wrapped_base64`] for `n` input bytes.
pub fn wrapped_base64_len(n: usize) -> usize {
    let flat = n.div_ceil(3) * 4;
    flat + flat.saturating_sub(1) / BASE64_LINE
}

/// The unsigned message text.
pub fn render(f: &MessageFields) -> String {
    match f.shape {
        Shape::Full => render_full(f),
        Shape::Minimal => minimal(&render_full(f)),
    }
}

/// `full` without indentation and without `freieNachricht` and `anlage`.
fn minimal(full: &str) -> String {
    let cut = |s: &str, from: &str, to: &str| -> String {
        match (s.find(from), s.find(to)) {
            (Some(a), Some(b)) if b >= a => format!(
                "{}{}",
                s.get(..a).unwrap_or_default(),
                s.get(b + to.len()..).unwrap_or_default()
            ),
            _ => s.to_owned(),
        }
    };
    let s = cut(full, "<xwas:freieNachricht>", "</xwas:freieNachricht>");
    let s = cut(&s, "<xwas:anlage ", "</xwas:anlage>");
    let mut out = String::with_capacity(s.len());
    let mut lines = s.lines();
    if let Some(decl) = lines.next() {
        out.push_str(decl);
        out.push('\n');
    }
    for l in lines {
        out.push_str(l.trim_start());
    }
    out.push('\n');
    out
}

fn render_full(f: &MessageFields) -> String {
    let attachment = wrapped_base64(&f.attachment);
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<xwas:vorgang.nachricht.2020 xmlns:xwas="{XWASSER_NS}" produkt="Onlinedienst Trinkwasser" produkthersteller="xoev-loadgen" produktversion="1.0" standard="XWasser" test="true" version="1.0.0">
  <nachrichtenkopf.g2g>
    <identifikation.nachricht>
      <nachrichtenUUID>{id}</nachrichtenUUID>
      <nachrichtentyp listURI="urn:xoev-de:xwasser:codeliste:nachrichtentyp" listVersionID="1"><code>2020</code></nachrichtentyp>
      <erstellungszeitpunkt>{created}</erstellungszeitpunkt>
    </identifikation.nachricht>
    <leser>
      <verzeichnisdienst listURI="urn:xoev-de:kosit:codeliste:verzeichnisdienst" listVersionID="2"><code>DVDV</code></verzeichnisdienst>
      <kennung>{leser}</kennung>
      <name>Gesundheitsamt</name>
    </leser>
    <autor>
      <verzeichnisdienst listURI="urn:xoev-de:kosit:codeliste:verzeichnisdienst" listVersionID="2"><code>DVDV</code></verzeichnisdienst>
      <kennung>{autor}</kennung>
      <name>Portal Wasserhygiene</name>
    </autor>
  </nachrichtenkopf.g2g>
  <xwas:identifikationVorgang>
    <xwas:vorgangsID>{vorgang}</xwas:vorgangsID>
  </xwas:identifikationVorgang>
  <xwas:freieNachricht>
    <xwas:rcvrPartnerID>{leser}</xwas:rcvrPartnerID>
    <xwas:sendPartnerID>{autor}</xwas:sendPartnerID>
    <xwas:inhalt>Prüfbericht zur Probennahme Nr. {case_no:06}, Kaltwasser, übersandt über das Portal.</xwas:inhalt>
  </xwas:freieNachricht>
  <xwas:anlage dokumentID="dok-1">
    <xwas:dokumentTyp listURI="urn:xoev-de:xwasser:codeliste:dokumenttyp" listVersionID="1"><code>7010</code></xwas:dokumentTyp>
    <xwas:name>Prüfbericht</xwas:name>
    <xwas:aktuelleVersion>1</xwas:aktuelleVersion>
    <xwas:dokumentRepraesentation dokumentRepraesentationID="rep-1">
      <xwas:mimeType>application/pdf</xwas:mimeType>
      <xwas:inhalt>{attachment}</xwas:inhalt>
      <xwas:dateiname>Pruefbericht.pdf</xwas:dateiname>
    </xwas:dokumentRepraesentation>
  </xwas:anlage>
</xwas:vorgang.nachricht.2020>
"#,
        id = f.id.hyphenated(),
        leser = f.leser,
        autor = f.autor,
        vorgang = f.vorgang.hyphenated(),
        case_no = f.case_no,
        created = f.created,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn wrapped_base64_len_matches_the_encoder_for_every_remainder() {
        for n in 0..400 {
            assert_eq!(
                wrapped_base64(&vec![0xa5; n]).len(),
                wrapped_base64_len(n),
                "n = {n}"
            );
        }
    }

    #[test]
    fn wrapped_base64_breaks_lines_at_76_characters() {
        let s = wrapped_base64(&[7u8; 200]);
        let lines: Vec<&str> = s.split('\n').collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[..3].iter().all(|l| l.len() == BASE64_LINE));
        assert!(!s.ends_with('\n'));
    }

    #[test]
    fn rendered_length_grows_exactly_with_the_attachment() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut f =
            MessageFields::random(&mut rng, "ags:08111000".into(), "psw:01003110".into(), 0);
        let base = render(&f).len();
        f.attachment = vec![1; 3000];
        assert_eq!(render(&f).len(), base + wrapped_base64_len(3000));
    }

    #[test]
    fn minimal_shape_drops_text_attachment_and_indentation() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut f = MessageFields::random(&mut rng, "ags:08111000".into(), "psw:1".into(), 10);
        let full = render(&f);
        f.shape = Shape::Minimal;
        let min = render(&f);
        assert!(
            min.len() + 800 < full.len(),
            "{} vs {}",
            min.len(),
            full.len()
        );
        assert!(!min.contains("anlage") && !min.contains("freieNachricht"));
        assert!(min.contains("<nachrichtenkopf.g2g><identifikation.nachricht>"));
        assert!(min.ends_with("</xwas:vorgang.nachricht.2020>\n"));
        assert_eq!(min.lines().count(), 2);
    }

    #[test]
    fn attachment_starts_like_a_pdf() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let f = MessageFields::random(&mut rng, "ags:08111000".into(), "psw:1".into(), 64);
        assert!(f.attachment.starts_with(b"%PDF-1.7\n"));
        assert!(render(&f).contains(&wrapped_base64(&f.attachment)));
    }
}
