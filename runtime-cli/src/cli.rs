//! The command line, flag for flag as runc's, so that engines can call berth in its place.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::log::Format;

#[derive(Parser, Debug)]
#[command(
    name = "berth",
    version,
    about = "berth is an OCI container runtime with runc's command line",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Root directory for container state.
    #[arg(long, global = true, default_value = berth::container::DEFAULT_ROOT)]
    pub root: PathBuf,
    /// Log file (default: stderr).
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format.
    #[arg(long = "log-format", global = true, value_enum, default_value = "text")]
    pub log_format: Format,
    /// Enable debug logging.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use systemd to manage cgroups (not supported: an error if set).
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto (only false, or auto as root, are supported).
    #[arg(long, value_name = "true|false|auto", num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Path to criu (accepted for compatibility; checkpoint/restore is not supported).
    #[arg(long, global = true, hide = true)]
    pub criu: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container from a bundle; its process waits for `start`.
    Create(CreateArgs),
    /// Run the process of a created container.
    Start(IdArg),
    /// Output the state of a container.
    State(IdArg),
    /// Send a signal to the container's init (or, with --all, to all its processes).
    Kill(KillArgs),
    /// Delete a container and everything it holds.
    Delete(DeleteArgs),
    /// Create and start a container.
    Run(RunArgs),
    /// Run a new process inside a container.
    Exec(ExecArgs),
    /// List containers.
    List(ListArgs),
    /// Create a new specification file (config.json).
    Spec(SpecArgs),
    /// Show the runtime's features (runtime-spec features.md).
    Features,
    /// Suspend every process in the container (cgroup freezer).
    Pause(IdArg),
    /// Resume a paused container.
    Resume(IdArg),
    /// Update the container's resource limits.
    Update(UpdateArgs),
    /// Show resource usage, and OOM notifications, of a container.
    Events(EventsArgs),
    /// List the processes running in a container.
    Ps(PsArgs),
}

#[derive(Args, Debug)]
pub struct IdArg {
    pub id: String,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Path to the bundle (default: current directory).
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket to send the pty master to (process.terminal).
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// File to write the init's pid to.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Pass N extra fds (3 .. 3+N-1) into the container.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Do not use pivot_root (for ramdisk roots).
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Detach from the container's process.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container after it exits (do not delete it).
    #[arg(long)]
    pub keep: bool,
    /// Do not become a child subreaper.
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Path to a process.json (runtime-spec `process`); overrides the other process flags.
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Unix socket to send the pty master to.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// File to write the process's pid to.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Detach from the process.
    #[arg(short, long)]
    pub detach: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Current working directory in the container.
    #[arg(long)]
    pub cwd: Option<String>,
    /// Set an environment variable (KEY=VALUE), repeatable.
    #[arg(short, long)]
    pub env: Vec<String>,
    /// UID[:GID] to run as.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional gids, repeatable.
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability to the bounding, effective, permitted and ambient sets, repeatable.
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Set no_new_privs.
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Pass N extra fds (3 .. 3+N-1) into the process.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// AppArmor profile for the process (an error on a host without AppArmor).
    #[arg(long)]
    pub apparmor: Option<String>,
    /// SELinux label for the process (an error on a host without SELinux).
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    pub id: String,
    /// The command and its arguments (unless --process is given).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// A JSON file with `linux.resources` to apply ('-' for stdin); the other flags are then
    /// ignored, as with runc.
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Block IO weight (10-1000).
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period (microseconds).
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota (microseconds per period; -1 for none).
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS burst (microseconds).
    #[arg(long = "cpu-burst")]
    pub cpu_burst: Option<u64>,
    /// CPU shares (relative weight).
    #[arg(long = "cpu-share", alias = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// Realtime period (microseconds).
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// Realtime runtime (microseconds per period).
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// SCHED_IDLE for the cgroup (cgroup v2): 0 or 1.
    #[arg(long = "cpu-idle")]
    pub cpu_idle: Option<i64>,
    /// CPUs to use (cpuset).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use (cpuset).
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Kernel memory limit (cgroup v1).
    #[arg(long = "kernel-memory", allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    /// Kernel TCP buffer memory limit (cgroup v1).
    #[arg(long = "kernel-memory-tcp", allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    /// Memory limit (bytes, or with a unit: 512m, 1g; -1 for none).
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory reservation (soft limit).
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (-1 for unlimited swap).
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of pids (0 or -1: no limit, as runc).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Intel RDT L3 cache schema (not supported: an error).
    #[arg(long = "l3-cache-schema")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (not supported: an error).
    #[arg(long = "mem-bw-schema")]
    pub mem_bw_schema: Option<String>,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Print the statistics once and exit.
    #[arg(long)]
    pub stats: bool,
    /// How often to print statistics (Go duration: 5s, 500ms, 1m).
    #[arg(long, default_value = "5s")]
    pub interval: String,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Output format: table or json.
    #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    pub id: String,
    /// Options for ps(1) (default: -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Send the signal to all processes in the container.
    #[arg(short, long)]
    pub all: bool,
    pub id: String,
    /// Signal name or number (default: SIGTERM).
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Kill a running container first; succeed if it does not exist.
    #[arg(short, long)]
    pub force: bool,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Output format: table or json.
    #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Print only the container ids.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// Where to write config.json (default: current directory).
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// A spec for rootless containers (not supported yet: an error).
    #[arg(long = "rootless", id = "spec_rootless")]
    pub rootless: bool,
    /// Add berth's default seccomp profile (for the spec's capabilities, this architecture).
    #[arg(long)]
    pub seccomp: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn engine_argv_parses() {
        use clap::Parser;
        for argv in [
            "berth --root /run/containerd/runc/default --log /b/log.json --log-format json create --bundle /b --pid-file /b/init.pid c1",
            "berth --log-format=json --log /x create --bundle /b --pid-file /b/pidfile --console-socket /tmp/s c1",
            "berth --root /r kill c1 9",
            "berth --root /r kill --all c1 9",
            "berth --root /r delete --force c1",
            "berth state c1",
            "berth list --format json",
            "berth list -q",
            "berth run -d --bundle /b c1",
            "berth spec --rootless",
            "berth spec --seccomp -b /b",
            "berth exec --apparmor berth-default --process-label u:r:t:s0 c1 true",
            "berth --root /r exec --process /tmp/p.json --detach --pid-file /b/e.pid c1",
            "berth exec --pid-file /f --process /p --detach --tty --console-socket /s c1",
            "berth exec -t c1 sh -c ls",
            "berth pause c1",
            "berth resume c1",
            "berth update --memory 512m --cpu-quota -1 --pids-limit 100 c1",
            "berth update -r - c1",
            "berth update --cpu-shares 512 c1",
            "berth events --stats c1",
            "berth events --interval 1s c1",
            "berth ps --format json c1",
            "berth ps c1 -o pid,comm",
        ] {
            super::Cli::try_parse_from(argv.split(' ')).unwrap_or_else(|e| panic!("{argv}: {e}"));
        }
    }
}
