//! Error types of the bindings: syntax errors carry line and column, field errors
//! name the offending field with a JSON-pointer-ish path.

/// A 1-based line and column in the source text (column counts characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (Unicode scalar values).
    pub column: u32,
}

impl Position {
    /// Computes the position of byte offset `offset` in `text` (clamped to the text).
    pub fn from_offset(text: &str, offset: usize) -> Position {
        let mut end = offset.min(text.len());
        while end > 0 && !text.is_char_boundary(end) {
            end -= 1;
        }
        let before = &text[..end];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|p| p + 1).unwrap_or(0);
        let column = before[line_start..].chars().count() + 1;
        Position {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }

    /// The positions of many byte offsets in one pass over `text` (linear in the text length,
    /// whatever the number of offsets). Offsets may come in any order; the result is in the
    /// order given.
    pub fn from_offsets(text: &str, offsets: &[usize]) -> Vec<Position> {
        let mut order: Vec<usize> = (0..offsets.len()).collect();
        order.sort_by_key(|&i| offsets[i]);
        let mut result = vec![Position { line: 1, column: 1 }; offsets.len()];
        // Cursor state: byte `scanned` is the first not yet counted; `line` and `line_start`
        // describe the line containing it.
        let (mut scanned, mut line, mut line_start) = (0usize, 1usize, 0usize);
        for i in order {
            let mut end = offsets[i].min(text.len());
            while end > 0 && !text.is_char_boundary(end) {
                end -= 1;
            }
            if end > scanned {
                let chunk = &text[scanned..end];
                for (at, _) in chunk.match_indices('\n') {
                    line += 1;
                    line_start = scanned + at + 1;
                }
                scanned = end;
            }
            let column = text[line_start..end.max(line_start)].chars().count() + 1;
            result[i] = Position {
                line: u32::try_from(line).unwrap_or(u32::MAX),
                column: u32::try_from(column).unwrap_or(u32::MAX),
            };
        }
        result
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why a document could not be read into the model.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The text is not well-formed JSON.
    #[error("JSON syntax error at {position}: {message}")]
    JsonSyntax {
        /// Where.
        position: Position,
        /// What.
        message: String,
    },
    /// The text is not well-formed XML (or uses an undeclared prefix).
    #[error("XML syntax error at {position}: {message}")]
    XmlSyntax {
        /// Where.
        position: Position,
        /// What.
        message: String,
    },
    /// Well-formed, but a field has the wrong shape or an impossible value.
    #[error("{field}: {message}{}", .position.map(|p| format!(" (at {p})")).unwrap_or_default())]
    Field {
        /// JSON-pointer-ish path, e.g. `eventList[3].action`.
        field: String,
        /// What is wrong.
        message: String,
        /// Where, if known.
        position: Option<Position>,
    },
}

impl ParseError {
    /// The field path for field errors, `None` for syntax errors.
    pub fn field(&self) -> Option<&str> {
        match self {
            ParseError::Field { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The position, if known.
    pub fn position(&self) -> Option<Position> {
        match self {
            ParseError::JsonSyntax { position, .. } | ParseError::XmlSyntax { position, .. } => {
                Some(*position)
            }
            ParseError::Field { position, .. } => *position,
        }
    }
}

/// Result alias for the bindings.
pub type Result<T> = std::result::Result<T, ParseError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_positions_match_one_by_one() {
        let text = "ab\nc\u{e9}d\n\nxyz";
        let offsets: Vec<usize> = vec![9, 0, 3, 6, 2, 999, 5];
        let one_by_one: Vec<Position> = offsets
            .iter()
            .map(|&o| Position::from_offset(text, o))
            .collect();
        assert_eq!(Position::from_offsets(text, &offsets), one_by_one);
    }

    #[test]
    fn positions() {
        let text = "ab\ncdé\nx";
        assert_eq!(
            Position::from_offset(text, 0),
            Position { line: 1, column: 1 }
        );
        assert_eq!(
            Position::from_offset(text, 3),
            Position { line: 2, column: 1 }
        );
        assert_eq!(
            Position::from_offset(text, 7),
            Position { line: 2, column: 4 }
        );
        assert_eq!(
            Position::from_offset(text, 999),
            Position { line: 3, column: 2 }
        );
    }
}

/// A field path rendered only when an error or problem is reported (reading
/// and validating a valid document allocate no path strings).
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    /// `{parent}.{field}`
    Field(&'a dyn std::fmt::Display, &'a str),
    /// `{parent}[{index}]`
    Index(&'a dyn std::fmt::Display, usize),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Field(parent, field) => write!(f, "{parent}.{field}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}
