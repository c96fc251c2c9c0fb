//! Byte offsets to 1-based line and column (columns count characters).

/// Converts offsets into `(line, column)`, scanning forward incrementally: offsets asked for
/// must not decrease, which holds for a streaming parser and keeps the total cost linear.
pub(crate) struct LineTracker<'a> {
    text: &'a [u8],
    pos: usize,
    line: u32,
    line_start: usize,
}

impl<'a> LineTracker<'a> {
    pub(crate) fn new(text: &'a [u8]) -> Self {
        LineTracker {
            text,
            pos: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// Line and column of byte `offset` (clamped to the text).
    pub(crate) fn at(&mut self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        if offset < self.pos {
            // Out-of-order request: restart (correct, only slower).
            self.pos = 0;
            self.line = 1;
            self.line_start = 0;
        }
        if let Some(chunk) = self.text.get(self.pos..offset) {
            let newlines = chunk.iter().filter(|&&b| b == b'\n').count();
            if newlines > 0 {
                self.line = self
                    .line
                    .saturating_add(u32::try_from(newlines).unwrap_or(u32::MAX));
                if let Some(last) = chunk.iter().rposition(|&b| b == b'\n') {
                    self.line_start = self.pos + last + 1;
                }
            }
        }
        self.pos = offset;
        let column = self
            .text
            .get(self.line_start..offset)
            .map(|s| s.iter().filter(|&&b| (b & 0xC0) != 0x80).count())
            .unwrap_or(0);
        (self.line, u32::try_from(column + 1).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lines_and_character_columns() {
        let text = "ab\nä<x>\n<y/>".as_bytes();
        let mut t = LineTracker::new(text);
        assert_eq!(t.at(0), (1, 1));
        assert_eq!(t.at(5), (2, 2));
        assert_eq!(t.at(9), (3, 1));
        assert_eq!(t.at(3), (2, 1));
    }
}
