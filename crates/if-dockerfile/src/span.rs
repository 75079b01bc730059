//! Byte spans into the Dockerfile text and their rendering as 1-based line and column.

use serde::Serialize;

/// A half-open byte range `start..end` into the analysed source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord, Serialize)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (swapped when given in the wrong order).
    pub fn new(start: usize, end: usize) -> Self {
        if start <= end {
            Span { start, end }
        } else {
            Span {
                start: end,
                end: start,
            }
        }
    }

    /// An empty span at `at`.
    pub fn at(at: usize) -> Self {
        Span { start: at, end: at }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the span covers no byte.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The text the span covers in `src`, or `""` when it does not fit.
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.start..self.end).unwrap_or("")
    }
}

/// A 1-based line and column (the column counts characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Position {
    /// Line number, from 1.
    pub line: usize,
    /// Column number, from 1, in characters.
    pub column: usize,
}

/// Line starts of a text, to turn byte offsets into [`Position`]s.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes the lines of `src` (split on `\n`, like BuildKit).
    pub fn new(src: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            src.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { starts }
    }

    /// The position of byte `offset` of `src` (clamped to the text; an offset inside a
    /// multi-byte character counts as that character).
    pub fn position(&self, src: &str, offset: usize) -> Position {
        let offset = offset.min(src.len());
        let line_idx = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let line_start = self.starts.get(line_idx).copied().unwrap_or(0).min(offset);
        let mut boundary = offset;
        while boundary > line_start && !src.is_char_boundary(boundary) {
            boundary -= 1;
        }
        let column = src
            .get(line_start..boundary)
            .map_or(0, |s| s.chars().count())
            + 1;
        Position {
            line: line_idx + 1,
            column,
        }
    }
}

/// The position of byte `offset` in `src` (builds a [`LineIndex`]; keep one for many lookups).
pub fn line_col(src: &str, offset: usize) -> Position {
    LineIndex::new(src).position(src, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let src = "ab\ncé\n\nx";
        let idx = LineIndex::new(src);
        assert_eq!(idx.position(src, 0), Position { line: 1, column: 1 });
        assert_eq!(idx.position(src, 3), Position { line: 2, column: 1 });
        assert_eq!(idx.position(src, 6), Position { line: 2, column: 3 });
        assert_eq!(idx.position(src, 5), Position { line: 2, column: 2 });
        assert_eq!(idx.position(src, 7), Position { line: 3, column: 1 });
        assert_eq!(idx.position(src, 99), Position { line: 4, column: 2 });
        assert_eq!(line_col("", 3), Position { line: 1, column: 1 });
    }
}
