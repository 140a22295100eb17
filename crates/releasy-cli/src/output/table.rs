//! Human tables: a header row and aligned columns, no borders.

use comfy_table::presets::NOTHING;
use comfy_table::{ContentArrangement, Table as Inner};

/// A table under construction.
#[derive(Debug)]
pub struct Table {
    inner: Inner,
    rows: usize,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Self {
        let mut inner = Inner::new();
        inner
            .load_preset(NOTHING)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(headers.iter().map(|h| h.to_ascii_uppercase()));
        Self { inner, rows: 0 }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) -> &mut Self {
        self.inner.add_row(cells);
        self.rows += 1;
        self
    }

    /// The text, or `empty` when there are no rows.
    pub fn render(&self, empty: &str) -> String {
        if self.rows == 0 {
            return empty.to_owned();
        }
        self.inner
            .to_string()
            .lines()
            .map(|line| line.trim_end().strip_prefix(' ').unwrap_or(line.trim_end()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The first 12 hex characters of a digest, for tables (`--json` has all 64).
pub fn short_digest(digest: &str) -> String {
    digest.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rows_or_the_empty_text() {
        let mut table = Table::new(&["id", "name"]);
        assert_eq!(table.render("(none)"), "(none)");
        table.row(vec!["1".into(), "Acme".into()]);
        let text = table.render("(none)");
        assert!(text.starts_with("ID"), "{text}");
        assert!(text.contains("Acme"), "{text}");
    }
}
