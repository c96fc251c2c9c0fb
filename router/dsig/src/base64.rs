//! Bounded base64 decoding of XML text content (white space allowed).

use base64::Engine as _;

use crate::VerifyError;

/// Decodes `text`, ignoring XML white space. Refuses text longer than
/// `max_chars` before doing any work, so huge blobs cost nothing.
pub(crate) fn decode(
    text: &str,
    element: &'static str,
    max_chars: usize,
) -> Result<Vec<u8>, VerifyError> {
    if text.len() > max_chars {
        return Err(VerifyError::Base64TooLong {
            element,
            limit: max_chars,
        });
    }
    let compact: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .map_err(|_| VerifyError::InvalidBase64 { element })
}

/// Standard base64 with padding, no line breaks.
pub(crate) fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
