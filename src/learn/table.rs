//! The report's content as data, rendered twice: Markdown for a terminal or
//! a pull request, HTML for a browser. A section that adds a [`Table`] to the
//! report's blocks shows up as a pipe table in one and a real, sortable
//! `<table>` in the other, with the same rows and the same "no data yet" note.
//!
//! Inline text (paragraphs, list items, cells) may use two bits of Markdown:
//! `` `code` `` and `**bold**`; the HTML renderer turns them into tags after
//! escaping everything else.

use std::fmt::Write as _;

/// One table of the report.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Shown above the table (a section heading).
    pub title: String,
    /// Column headers.
    pub headers: Vec<String>,
    /// Cells, row by row, as display text.
    pub rows: Vec<Vec<String>>,
    /// Shown instead of the table when it has no rows: "no data yet" and
    /// what would fill it.
    pub empty_note: String,
    /// Optional sort keys per cell (same shape as `rows`), for cells whose
    /// text does not sort right (`73% (11/15)`); `None` sorts by the text.
    pub sort_keys: Vec<Vec<Option<f64>>>,
}

impl Table {
    /// A table with headers and an empty-state note.
    pub fn new(title: &str, headers: &[&str], empty_note: &str) -> Table {
        Table {
            title: title.to_string(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            empty_note: empty_note.to_string(),
            ..Table::default()
        }
    }

    /// Adds a row of display text.
    pub fn row(&mut self, cells: Vec<String>) {
        self.sort_keys.push(vec![None; cells.len()]);
        self.rows.push(cells);
    }

    /// Adds a row with a numeric sort key per cell.
    pub fn row_keyed(&mut self, cells: Vec<(String, Option<f64>)>) {
        let (text, keys) = cells.into_iter().unzip();
        self.rows.push(text);
        self.sort_keys.push(keys);
    }
}

/// A block of the report, in reading order.
#[derive(Debug, Clone)]
pub enum Block {
    /// A section heading.
    Heading(String),
    /// A paragraph.
    Para(String),
    /// A bulleted list.
    List(Vec<String>),
    /// A table with its own heading.
    Table(Table),
    /// A chart: drawn in HTML only (`html` is inline SVG or a note).
    Chart {
        /// Heading above the chart.
        title: String,
        /// The chart's markup.
        html: String,
    },
}

/// Escapes a Markdown table cell or line: no pipes, no newlines, no raw HTML.
pub fn md_escape(t: &str) -> String {
    t.replace('|', "\\|")
        .replace(['\n', '\r'], " ")
        .replace('<', "&lt;")
}

/// Escapes HTML text and attribute values.
pub fn html_escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders the blocks as Markdown (charts are left out: their data is in the tables).
pub fn markdown(title: &str, blocks: &[Block]) -> String {
    let mut o = format!("# {title}\n\n");
    for b in blocks {
        match b {
            Block::Heading(h) => {
                let _ = writeln!(o, "## {h}\n");
            }
            Block::Para(p) => {
                let _ = writeln!(o, "{p}\n");
            }
            Block::List(items) => {
                for i in items {
                    let _ = writeln!(o, "- {i}");
                }
                o.push('\n');
            }
            Block::Table(t) => {
                let _ = writeln!(o, "## {}\n", t.title);
                if t.rows.is_empty() {
                    let _ = writeln!(o, "{}\n", t.empty_note);
                    continue;
                }
                let _ = writeln!(o, "| {} |", t.headers.join(" | "));
                let _ = writeln!(o, "|{}", "---|".repeat(t.headers.len()));
                for r in &t.rows {
                    let cells: Vec<String> = r.iter().map(|c| md_escape(c)).collect();
                    let _ = writeln!(o, "| {} |", cells.join(" | "));
                }
                o.push('\n');
            }
            Block::Chart { .. } => {}
        }
    }
    o
}

/// Inline Markdown (`code`, **bold**) of already-escaped HTML text.
fn inline(t: &str) -> String {
    let mut out = String::new();
    for (i, part) in html_escape(t).split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            for (j, p) in part.split("**").enumerate() {
                if j % 2 == 1 {
                    let _ = write!(out, "<strong>{p}</strong>");
                } else {
                    out.push_str(p);
                }
            }
        }
    }
    out
}

/// Renders one table as HTML: a `<table class="data">` whose header cells
/// sort it when clicked (the page's script), or its empty note.
pub fn html_table(t: &Table) -> String {
    let mut o = format!("<h2>{}</h2>\n", inline(&t.title));
    if t.rows.is_empty() {
        let _ = writeln!(o, "<p class=\"empty\">{}</p>", inline(&t.empty_note));
        return o;
    }
    o.push_str("<table class=\"data\"><thead><tr>");
    for h in &t.headers {
        let _ = write!(o, "<th title=\"click to sort\">{}</th>", inline(h));
    }
    o.push_str("</tr></thead><tbody>\n");
    for (r, row) in t.rows.iter().enumerate() {
        o.push_str("<tr>");
        for (c, cell) in row.iter().enumerate() {
            match t.sort_keys.get(r).and_then(|k| k.get(c)).copied().flatten() {
                Some(k) => {
                    let _ = write!(o, "<td data-sort=\"{k}\">{}</td>", inline(cell));
                }
                None => {
                    let _ = write!(o, "<td>{}</td>", inline(cell));
                }
            }
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</tbody></table>\n");
    o
}

/// Click-to-sort for every `table.data`: numbers (or `data-sort` keys) sort
/// as numbers, the rest as text; a second click reverses.
pub const SORT_SCRIPT: &str = r#"<script>
document.querySelectorAll('table.data').forEach(function (t) {
  t.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = t.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var dir = th.dataset.dir === 'asc' ? -1 : 1; th.dataset.dir = dir === 1 ? 'asc' : 'desc';
      function key(r) { var c = r.cells[col]; var k = c.dataset.sort;
        if (k !== undefined) return parseFloat(k);
        var n = parseFloat(c.textContent.replace(/[$,%]/g, ''));
        return isNaN(n) ? c.textContent : n; }
      rows.sort(function (a, b) { var x = key(a), y = key(b);
        return (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y))) * dir; });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
</script>"#;

/// Renders the blocks as the body of an HTML page.
pub fn html_blocks(blocks: &[Block]) -> String {
    let mut o = String::new();
    for b in blocks {
        match b {
            Block::Heading(h) => {
                let _ = writeln!(o, "<h2>{}</h2>", inline(h));
            }
            Block::Para(p) => {
                let _ = writeln!(o, "<p>{}</p>", inline(p));
            }
            Block::List(items) => {
                o.push_str("<ul>");
                for i in items {
                    let _ = write!(o, "<li>{}</li>", inline(i));
                }
                o.push_str("</ul>\n");
            }
            Block::Table(t) => o.push_str(&html_table(t)),
            Block::Chart { title, html } => {
                let _ = writeln!(o, "<h2>{}</h2>\n{html}", inline(title));
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_table_renders_as_pipes_and_as_html_with_the_same_rows() {
        let mut t = Table::new("T", &["a", "b"], "no data yet");
        t.row(vec!["x|y".into(), "<b>".into()]);
        let md = markdown("R", &[Block::Table(t.clone())]);
        assert!(md.contains("| x\\|y | &lt;b> |"), "{md}");
        let html = html_table(&t);
        assert!(html.contains("<td>x|y</td><td>&lt;b&gt;</td>"), "{html}");
        let empty = Table::new("E", &["a"], "no data yet: run `modelfit learn`");
        assert!(markdown("R", &[Block::Table(empty.clone())]).contains("no data yet"));
        assert!(html_table(&empty).contains("<code>modelfit learn</code>"));
    }
}
