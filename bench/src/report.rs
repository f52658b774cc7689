//! Markdown tables and number formatting.

use std::io::Write;
use std::time::Duration;

/// A Markdown table printed to standard output, where `scripts/bench.sh`
/// collects it.
#[derive(Debug)]
pub struct Table {
    title: String,
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
    notes: Vec<String>,
}

impl Table {
    /// A table with a heading and column names.
    pub fn new(title: impl Into<String>, columns: &[&str]) -> Table {
        Table {
            title: title.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Appends a line printed under the table.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// The table as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = format!("### {}\n\n", self.title);
        out += &format!("| {} |\n", self.columns.join(" | "));
        out += &format!("|{}\n", "---|".repeat(self.columns.len()));
        for row in &self.rows {
            out += &format!("| {} |\n", row.join(" | "));
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                out += &format!("{note}\n");
            }
        }
        out
    }

    /// Prints the table (and flushes, so that progress shows while later
    /// rows run).
    pub fn print(&self) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", self.markdown());
        let _ = stdout.flush();
    }
}

/// A size in bytes: `16 B`, `64 KiB`, `16 MiB`.
pub fn size(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

/// A byte count with one decimal: `1.5 KiB`, `212.3 MiB`.
pub fn bytes(n: f64) -> String {
    let abs = n.abs();
    if abs >= (1u64 << 30) as f64 {
        format!("{:.2} GiB", n / (1u64 << 30) as f64)
    } else if abs >= (1 << 20) as f64 {
        format!("{:.1} MiB", n / (1 << 20) as f64)
    } else if abs >= 1024.0 {
        format!("{:.1} KiB", n / 1024.0)
    } else {
        format!("{n:.0} B")
    }
}

/// Events per second with a metric prefix: `12.3 M/s`.
pub fn rate(per_sec: f64) -> String {
    if per_sec >= 1e9 {
        format!("{:.2} G/s", per_sec / 1e9)
    } else if per_sec >= 1e6 {
        format!("{:.2} M/s", per_sec / 1e6)
    } else if per_sec >= 1e3 {
        format!("{:.1} k/s", per_sec / 1e3)
    } else {
        format!("{per_sec:.1} /s")
    }
}

/// Gigabytes (10^9) per second.
pub fn gbps(bytes: f64, time: Duration) -> String {
    format!("{:.2} GB/s", bytes / time.as_secs_f64().max(1e-12) / 1e9)
}

/// Megabytes (10^6) per second.
pub fn mbps(bytes_per_sec: f64) -> String {
    format!("{:.1} MB/s", bytes_per_sec / 1e6)
}

/// A ratio: `1.23×`.
pub fn ratio(r: f64) -> String {
    if r.is_finite() {
        format!("{r:.2}×")
    } else {
        "–".to_string()
    }
}

/// A duration in the most readable unit: `850 ns`, `12.3 µs`, `4.56 ms`.
pub fn latency(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns >= 1_000_000_000 {
        format!("{:.2} s", d.as_secs_f64())
    } else if ns >= 1_000_000 {
        format!("{:.2} ms", ns as f64 / 1e6)
    } else if ns >= 1_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{ns} ns")
    }
}

/// Throughput of `frames` frames of `payload` bytes each in `time`, as
/// `frames/s · GB/s`.
pub fn frames_and_gbps(frames: usize, payload: usize, time: Duration) -> String {
    let secs = time.as_secs_f64().max(1e-12);
    format!(
        "{} · {}",
        rate(frames as f64 / secs),
        gbps((frames * payload) as f64, time)
    )
}
