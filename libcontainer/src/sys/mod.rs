//! The syscall layer: the only place in the crate where `unsafe` is allowed. Each function wraps
//! one kernel interface that `nix` does not cover safely, and every `unsafe` block says why it is
//! sound in a `// SAFETY:` line. Callers get safe functions returning `nix::Result`.
pub mod bpf;
pub mod caps;
pub mod exec;
pub mod memory;
pub mod mount;
pub mod process;
pub mod sched;
pub mod seccomp;
pub mod socket;
pub mod term;
