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

/// Turns byte offsets into line/column, in one pass over the input.
/// Invariant: `line` and `column` describe byte `offset` of `text`.
pub(crate) struct LineTracker<'a> {
    text: &'a str,
    base: usize,
    offset: usize,
    line: u32,
    column: u32,
}

impl<'a> LineTracker<'a> {
    /// `base` is added to offsets in reports (the BOM length).
    pub(crate) fn new(text: &'a str, base: usize) -> Self {
        Self {
            text,
            base,
            offset: 0,
            line: 1,
            column: 1,
        }
    }

    /// Position of byte `offset` of `text`. Amortised O(1) when offsets
    /// grow; an earlier offset restarts from the beginning (errors only).
    pub(crate) fn at(&mut self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        if offset < self.offset {
            self.offset = 0;
            self.line = 1;
            self.column = 1;
        }
        let bytes = self.text.as_bytes();
        for i in self.offset..offset {
            match bytes.get(i).copied().unwrap_or(0) {
                b'\n' => {
                    self.line = self.line.saturating_add(1);
                    self.column = 1;
                }
                // CRLF counts once: the LF that follows ends the line.
                b'\r' if bytes.get(i + 1) != Some(&b'\n') => {
                    self.line = self.line.saturating_add(1);
                    self.column = 1;
                }
                b'\r' => {}
                // Count characters: every byte that is not a UTF-8 continuation byte.
                b if b & 0xC0 != 0x80 => self.column = self.column.saturating_add(1),
                _ => {}
            }
        }
        self.offset = offset;
        Position {
            line: self.line,
            column: self.column,
            offset: offset + self.base,
        }
    }
}
