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
    has_cr: bool,
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
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
            has_cr: text.contains('\r'),
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
        let from = self.offset;
        let segment = bytes.get(from..offset).unwrap_or(&[]);
        let chars = |s: &[u8]| {
            to_u32(
                s.iter()
                    .filter(|b| (**b & 0xC0) != 0x80 && **b != b'\r')
                    .count(),
            )
        };
        if self.has_cr {
            // Rare: documents with CR. Byte by byte, CRLF counted once.
            for (i, b) in segment.iter().enumerate() {
                let line_end =
                    *b == b'\n' || (*b == b'\r' && bytes.get(from + i + 1) != Some(&b'\n'));
                if line_end {
                    self.line = self.line.saturating_add(1);
                    self.column = 1;
                } else if (*b & 0xC0) != 0x80 && *b != b'\r' {
                    self.column = self.column.saturating_add(1);
                }
            }
        } else {
            // Common: LF only. Counting passes the compiler vectorises.
            match segment.iter().rposition(|b| *b == b'\n') {
                None => self.column = self.column.saturating_add(chars(segment)),
                Some(last) => {
                    let newlines = segment.iter().filter(|b| **b == b'\n').count();
                    self.line = self.line.saturating_add(to_u32(newlines));
                    self.column =
                        1u32.saturating_add(chars(segment.get(last + 1..).unwrap_or(&[])));
                }
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
