//! Source positions, computed incrementally so the whole parse stays O(n).

/// A place in the input: 1-based line and column (columns count characters),
/// and the 0-based byte offset into the input as given (a BOM counts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Position {
    /// 1-based line number; CR, LF and CRLF each end a line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// 0-based byte offset into the original input.
    pub offset: usize,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Turns byte offsets into line/column. Invariant: `offset` is a char
/// boundary of `text` and `line`/`line_start` describe it.
pub(crate) struct LineTracker<'a> {
    text: &'a str,
    base: usize,
    offset: usize,
    line: u32,
    line_start: usize,
}

impl<'a> LineTracker<'a> {
    /// `base` is added to offsets in reports (the BOM length).
    pub(crate) fn new(text: &'a str, base: usize) -> Self {
        Self {
            text,
            base,
            offset: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// Position of byte `offset` of `text`. Cheap when offsets grow; an
    /// earlier offset restarts from the beginning (only happens on errors).
    pub(crate) fn at(&mut self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        if offset < self.offset {
            self.offset = 0;
            self.line = 1;
            self.line_start = 0;
        }
        let bytes = self.text.as_bytes();
        let mut i = self.offset;
        while i < offset {
            match bytes.get(i) {
                Some(b'\n') => {
                    self.line = self.line.saturating_add(1);
                    self.line_start = i + 1;
                }
                // CRLF counts once: the LF that follows starts the line.
                Some(b'\r') if bytes.get(i + 1) != Some(&b'\n') => {
                    self.line = self.line.saturating_add(1);
                    self.line_start = i + 1;
                }
                _ => {}
            }
            i += 1;
        }
        self.offset = offset;
        let column_bytes = bytes.get(self.line_start..offset).unwrap_or(&[]);
        // Count characters: every byte that is not a UTF-8 continuation byte.
        let column = column_bytes.iter().filter(|b| (**b & 0xC0) != 0x80).count();
        Position {
            line: self.line,
            column: u32::try_from(column).unwrap_or(u32::MAX).saturating_add(1),
            offset: offset + self.base,
        }
    }
}
