//! `berth`: runc's command line over the berth library.
/// `print!` for a command's output on stdout; see [`write_out`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::write_out(format_args!($($arg)*)) };
}

/// `println!` for a command's output on stdout; see [`write_out`].
macro_rules! outln {
    ($($arg:tt)*) => { $crate::write_out(format_args!("{}\n", format_args!($($arg)*))) };
}

mod cgroup_cmds;
mod cli;
mod commands;
mod default_spec;
mod exec;
mod foreground;
mod log;

use std::path::PathBuf;

use clap::Parser;

use cli::{Cli, Command};

fn main() {
    // A container sharing the host's pid namespace can see every berth process: none of them
    // may expose its /proc/<pid>/exe (the berth binary) to it (see launch::hide_runtime_image).
    let _ = nix::sys::prctl::set_dumpable(false);
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help, --version
            let _ = e.print();
            std::process::exit(0);
        }
        Err(e) => {
            let (path, format) = log_flags_from_argv();
            fatal(path.as_deref(), format, &usage_error(&e));
        }
    };
    let to_file = match log::init(cli.log.as_deref(), cli.log_format, cli.debug) {
        Ok(to_file) => to_file,
        Err(e) => {
            let path = cli
                .log
                .as_deref()
                .unwrap_or_else(|| std::path::Path::new("-"));
            eprintln!("open log {}: {e}", path.display());
            std::process::exit(1);
        }
    };
    match dispatch(&cli) {
        Ok(code) => std::process::exit(code),
        Err(msg) => {
            tracing::error!("{msg}");
            if to_file {
                eprintln!("{msg}");
            }
            std::process::exit(1);
        }
    }
}

/// Runs the command; an error comes back as the one line to log.
fn dispatch(cli: &Cli) -> Result<i32, String> {
    if cli.systemd_cgroup {
        return Err(
            "--systemd-cgroup: the systemd cgroup driver is not supported; use cgroupfs".into(),
        );
    }
    match cli.rootless.as_deref() {
        None | Some("false") => {}
        Some("auto") if nix::unistd::geteuid().is_root() => {}
        Some("true") | Some("auto") => {
            return Err("--rootless: rootless mode is not supported yet; run as root".into())
        }
        Some(v) => {
            return Err(format!(
                "--rootless: invalid value {v:?} (true, false or auto)"
            ))
        }
    }
    let root = &cli.root;
    let result = match &cli.command {
        Command::Create(a) => {
            commands::create(root, a).map_err(|e| format!("berth create failed: {e}"))
        }
        Command::Run(a) => commands::run(root, a).map_err(|e| format!("berth run failed: {e}")),
        Command::Exec(a) => exec::exec(root, a).map_err(|e| format!("exec failed: {e}")),
        Command::Start(a) => commands::start(root, &a.id).map_err(|e| e.to_string()),
        Command::State(a) => commands::state(root, &a.id).map_err(|e| e.to_string()),
        Command::Kill(a) => commands::kill(root, a).map_err(|e| e.to_string()),
        Command::Delete(a) => commands::delete(root, a).map_err(|e| e.to_string()),
        Command::List(a) => commands::list(root, a).map_err(|e| e.to_string()),
        Command::Spec(a) => commands::spec(a).map_err(|e| e.to_string()),
        Command::Pause(a) => cgroup_cmds::pause(root, &a.id).map_err(|e| e.to_string()),
        Command::Resume(a) => cgroup_cmds::resume(root, &a.id).map_err(|e| e.to_string()),
        Command::Update(a) => cgroup_cmds::update(root, a).map_err(|e| e.to_string()),
        Command::Events(a) => cgroup_cmds::events(root, a).map_err(|e| e.to_string()),
        Command::Ps(a) => cgroup_cmds::ps(root, a).map_err(|e| e.to_string()),
        Command::Features => commands::features().map_err(|e| e.to_string()),
    };
    result.map_err(|m| m.replace('\n', " "))
}

/// clap's message, on one line: "unexpected argument '--bogus' found".
fn usage_error(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("invalid usage");
    first.trim_start_matches("error: ").to_string()
}

/// Before clap has parsed anything (its own errors), find `--log` and `--log-format` by hand
/// so that even a usage error reaches the engine's log file.
fn log_flags_from_argv() -> (Option<PathBuf>, log::Format) {
    let args: Vec<String> = std::env::args().collect();
    let mut path = None;
    let mut format = log::Format::Text;
    let mut i = 1;
    while i < args.len() {
        let (flag, inline) = match args[i].split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (args[i].as_str(), None),
        };
        let value = || inline.clone().or_else(|| args.get(i + 1).cloned());
        match flag {
            "--log" => path = value().map(PathBuf::from),
            "--log-format" if value().as_deref() == Some("json") => format = log::Format::Json,
            _ => {}
        }
        i += 1;
    }
    (path, format)
}

fn fatal(path: Option<&std::path::Path>, format: log::Format, msg: &str) -> ! {
    match log::init(path, format, false) {
        Ok(to_file) => {
            tracing::error!("{msg}");
            if to_file {
                eprintln!("{msg}");
            }
        }
        Err(_) => eprintln!("{msg}"),
    }
    std::process::exit(1);
}

/// Writes command output to stdout. When the reader has gone (`berth list | head -1`) berth
/// ends as runc does, quietly and with the status of a death by SIGPIPE, not with a panic; any
/// other write error is a one-line error.
fn write_out(args: std::fmt::Arguments) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(128 + libc::SIGPIPE);
        }
        eprintln!("write output: {e}");
        std::process::exit(1);
    }
}
