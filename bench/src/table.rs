//! The results as a markdown table: one row per workload, one column per runtime (cells are
//! "min / median / mean"), and the median ratios of berth to each other runtime.
use crate::stats::{Series, Stats};

/// The runtime the ratio columns compare with the others.
pub const SUBJECT: &str = "berth";

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Stats(Stats),
    /// A single value (a size, a ratio).
    Value(f64),
    Text(String),
    Fail(String),
    /// The runtime does not have the feature.
    NotAvailable,
    /// Not measured.
    Missing,
}

impl Cell {
    pub fn from_series(series: &Series) -> Cell {
        match (&series.error, series.stats()) {
            (Some(e), _) => Cell::Fail(e.clone()),
            (None, Some(s)) => Cell::Stats(s),
            (None, None) => Cell::Missing,
        }
    }

    fn median(&self) -> Option<f64> {
        match self {
            Cell::Stats(s) => Some(s.median),
            Cell::Value(v) => Some(*v),
            _ => None,
        }
    }

    fn render(&self) -> String {
        match self {
            Cell::Stats(s) => format!("{} / {} / {}", num(s.min), num(s.median), num(s.mean)),
            Cell::Value(v) => num(*v),
            Cell::Text(t) => escape(t),
            Cell::Fail(e) => format!("fail: {}", escape(&shorten(e, 90))),
            Cell::NotAvailable => "n/a".into(),
            Cell::Missing => "—".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub label: String,
    /// One cell per runtime, in the table's runtime order.
    pub cells: Vec<Cell>,
    /// Whether the ratio columns apply (not for text, or for rows that are ratios themselves).
    pub compare: bool,
}

pub struct Table {
    pub runtimes: Vec<String>,
    pub rows: Vec<Row>,
}

impl Table {
    pub fn render(&self) -> String {
        let subject = self.runtimes.iter().position(|r| r == SUBJECT);
        let others: Vec<usize> = match subject {
            Some(s) => (0..self.runtimes.len()).filter(|&i| i != s).collect(),
            None => Vec::new(),
        };
        let mut header = vec!["Workload".to_string()];
        header.extend(self.runtimes.iter().cloned());
        header.extend(
            others
                .iter()
                .map(|&o| format!("{SUBJECT}/{}", self.runtimes[o])),
        );
        let mut out = line(&header);
        out += &line(&vec!["---".to_string(); header.len()]);
        for row in &self.rows {
            let mut cells = vec![escape(&row.label)];
            cells.extend(row.cells.iter().map(Cell::render));
            for &o in &others {
                let s = subject
                    .and_then(|s| row.cells.get(s))
                    .and_then(Cell::median);
                let r = row.cells.get(o).and_then(Cell::median);
                cells.push(match (row.compare, s, r) {
                    (true, Some(s), Some(r)) if r > 0.0 => format!("{:.2}×", s / r),
                    _ => "—".into(),
                });
            }
            out += &line(&cells);
        }
        out
    }
}

fn line(cells: &[String]) -> String {
    format!("| {} |\n", cells.join(" | "))
}

/// Three significant digits or so: 0.532, 5.32, 53.2, 532.
pub fn num(v: f64) -> String {
    match v.abs() {
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 10.0 => format!("{v:.1}"),
        a if a >= 1.0 => format!("{v:.2}"),
        _ => format!("{v:.3}"),
    }
}

/// One line of text that cannot break the table.
fn escape(text: &str) -> String {
    text.replace(['\n', '\r'], " ").replace('|', "\\|")
}

fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(min: f64, median: f64, mean: f64) -> Cell {
        Cell::Stats(Stats {
            n: 3,
            min,
            median,
            mean,
        })
    }

    fn table(runtimes: &[&str], rows: Vec<Row>) -> Table {
        Table {
            runtimes: runtimes.iter().map(|r| r.to_string()).collect(),
            rows,
        }
    }

    #[test]
    fn ratios_use_medians() {
        let t = table(
            &["berth", "runc", "crun"],
            vec![Row {
                label: "run (ms)".into(),
                cells: vec![
                    stats(4.0, 5.0, 6.0),
                    stats(30.0, 40.0, 41.0),
                    stats(9.0, 10.0, 12.5),
                ],
                compare: true,
            }],
        );
        assert_eq!(
            t.render(),
            "| Workload | berth | runc | crun | berth/runc | berth/crun |\n\
             | --- | --- | --- | --- | --- | --- |\n\
             | run (ms) | 4.00 / 5.00 / 6.00 | 30.0 / 40.0 / 41.0 | 9.00 / 10.0 / 12.5 | 0.12× | 0.50× |\n"
        );
    }

    #[test]
    fn failures_and_missing_cells_have_no_ratio() {
        let t = table(
            &["runc", "berth"],
            vec![
                Row {
                    label: "exec".into(),
                    cells: vec![Cell::Value(2.0), Cell::NotAvailable],
                    compare: true,
                },
                Row {
                    label: "create".into(),
                    cells: vec![Cell::Value(2.0), Cell::Fail("bad | thing\nmore".into())],
                    compare: true,
                },
                Row {
                    label: "size".into(),
                    cells: vec![Cell::Value(2000.0), Cell::Value(500.0)],
                    compare: true,
                },
                Row {
                    label: "slowdown".into(),
                    cells: vec![Cell::Value(1.0), Cell::Value(2.0)],
                    compare: false,
                },
            ],
        );
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "| Workload | runc | berth | berth/runc |");
        assert_eq!(lines[2], "| exec | 2.00 | n/a | — |");
        assert_eq!(lines[3], "| create | 2.00 | fail: bad \\| thing more | — |");
        assert_eq!(lines[4], "| size | 2000 | 500 | 0.25× |");
        assert_eq!(lines[5], "| slowdown | 1.00 | 2.00 | — |");
    }

    #[test]
    fn without_berth_there_are_no_ratio_columns() {
        let t = table(
            &["runc", "crun"],
            vec![Row {
                label: "libs".into(),
                cells: vec![Cell::Text("libc.so.6".into()), Cell::Missing],
                compare: false,
            }],
        );
        assert_eq!(t.render().lines().nth(2), Some("| libs | libc.so.6 | — |"));
    }

    #[test]
    fn numbers_and_long_errors() {
        assert_eq!(num(0.5321), "0.532");
        assert_eq!(num(5.321), "5.32");
        assert_eq!(num(53.21), "53.2");
        assert_eq!(num(5321.4), "5321");
        let long = "x".repeat(200);
        let Cell::Fail(_) = Cell::from_series(&Series {
            samples: vec![],
            error: Some(long.clone()),
        }) else {
            panic!("a series with an error is a failure");
        };
        assert_eq!(Cell::Fail(long).render().chars().count(), 6 + 90 + 1);
    }
}
