//! runc's log output: `--log FILE` (default stderr) in `--log-format text|json`, so that
//! engines that parse runc's log lines (containerd's shim reads the last `"level":"error"` line)
//! read berth's the same way.
use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// The log sink: one line per event, in runc's (logrus's) text or JSON shape.
struct RuncLog {
    out: Mutex<Box<dyn Write + Send>>,
    format: Format,
    max: Level,
}

/// Sets the global logger. Returns whether log lines go somewhere other than stderr (then
/// fatal errors are also printed plainly on stderr, as runc does).
pub fn init(path: Option<&Path>, format: Format, debug: bool) -> std::io::Result<bool> {
    let (out, to_file): (Box<dyn Write + Send>, bool) = match path {
        Some(p) if p != Path::new("/dev/stderr") => (
            Box::new(OpenOptions::new().create(true).append(true).open(p)?),
            true,
        ),
        // A private copy of stderr: a container's init replaces its fd 2 (with the pty, for
        // a terminal), and its log lines must still reach the caller's stderr.
        _ => (
            Box::new(std::fs::File::from(
                std::io::stderr().as_fd().try_clone_to_owned()?,
            )),
            false,
        ),
    };
    let layer = RuncLog {
        out: Mutex::new(out),
        format,
        max: if debug { Level::DEBUG } else { Level::INFO },
    };
    tracing_subscriber::registry().with(layer).init();
    Ok(to_file)
}

impl<S: Subscriber> Layer<S> for RuncLog {
    // Lets tracing skip events below the level at their call sites (debug timings cost
    // nothing without --debug).
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::from_level(self.max))
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if level > self.max {
            return;
        }
        let mut msg = Message(String::new());
        event.record(&mut msg);
        let line = render(self.format, level, &msg.0, &timestamp());
        if let Ok(mut out) = self.out.lock() {
            let _ = out.write_all(line.as_bytes());
        }
    }
}

struct Message(String);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.push_str(&format!("{value:?}"));
        }
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// One log line, newline-terminated.
fn render(format: Format, level: Level, msg: &str, time: &str) -> String {
    match format {
        Format::Json => {
            let v = serde_json::json!({"level": level_name(level), "msg": msg, "time": time});
            format!("{v}\n")
        }
        Format::Text => format!(
            "time={} level={} msg={}\n",
            quote(time),
            level_name(level),
            quote(msg)
        ),
    }
}

/// logrus quotes a text value unless it is made only of "safe" characters.
fn quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._/@^+".contains(c));
    if safe {
        s.to_string()
    } else {
        serde_json::to_string(s).expect("string serialises")
    }
}

/// RFC 3339 to the second, UTC, as logrus prints it on a UTC machine.
fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    berth::state::rfc3339(secs, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_like_runc() {
        let line = render(
            Format::Json,
            Level::ERROR,
            "container does not exist",
            "2026-01-02T03:04:05Z",
        );
        assert_eq!(
            line,
            "{\"level\":\"error\",\"msg\":\"container does not exist\",\"time\":\"2026-01-02T03:04:05Z\"}\n"
        );
    }

    #[test]
    fn text_line_like_logrus() {
        let line = render(
            Format::Text,
            Level::ERROR,
            "container does not exist",
            "2026-01-02T03:04:05Z",
        );
        assert_eq!(
            line,
            "time=\"2026-01-02T03:04:05Z\" level=error msg=\"container does not exist\"\n"
        );
        assert_eq!(quote("abc"), "abc");
        assert_eq!(quote("a \"b\""), "\"a \\\"b\\\"\"");
    }
}
