//! Finds the functions a berth command executes, in the order it first executes them, so that
//! the release link can place them together (`--symbol-ordering-file`): a short command then
//! faults in a few dense pages of code instead of most of the binary (each fault maps 64 KiB
//! around the faulting address, so scattered code ends up resident almost in full).
//!
//!   berth-orderfile MAP OUT -- COMMAND...
//!
//! MAP is the lld `-Map` of the binary COMMAND runs. Every function entry listed there gets a
//! breakpoint; COMMAND and every process it clones run under ptrace until they exec something
//! else, and each function's first hit appends its symbol to OUT (then its original byte is
//! put back in that process). `scripts/orderfile.sh` runs it over a container's lifecycle.
//! Single-stepping would be simpler, but costs about 100 us a step in a VM.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::ptrace::{self, Options};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{execvp, fork, ForkResult, Pid};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [map, out, dashes, command @ ..] if dashes == "--" && !command.is_empty() => {
            run(map, out, command)
        }
        _ => Err("usage: berth-orderfile MAP OUT -- COMMAND...".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth-orderfile: {e}");
            ExitCode::FAILURE
        }
    }
}

/// How long the remaining tracees may stay silent after the command itself exited (a created
/// container's init waits for `start`) before they are cleaned of breakpoints and let go.
const QUIET: Duration = Duration::from_millis(300);
const INT3: u8 = 0xcc;

fn run(map: &str, out: &str, command: &[String]) -> Result<(), String> {
    let text = fs::read_to_string(map).map_err(|e| format!("read {map}: {e}"))?;
    let sections = text_sections(&text);
    if sections.is_empty() {
        return Err(format!("{map}: no .text input sections (not an lld map?)"));
    }
    // Breakpoint address -> the input section it belongs to.
    let entries: BTreeMap<u64, u64> = sections
        .iter()
        .flat_map(|(start, s)| s.entries.iter().map(move |e| (*e, *start)))
        .collect();
    let argv: Vec<CString> = command
        .iter()
        .map(|a| CString::new(a.as_bytes()).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    // SAFETY: the tool is single-threaded; the child only calls ptrace and execvp before exec.
    let main = match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            let _ = ptrace::traceme();
            let _ = execvp(&argv[0], &argv);
            std::process::exit(127);
        }
        ForkResult::Parent { child } => child,
    };
    waitpid(main, None).map_err(|e| format!("waitpid: {e}"))?; // its exec stop
    let options = Options::PTRACE_O_TRACECLONE
        | Options::PTRACE_O_TRACEFORK
        | Options::PTRACE_O_TRACEVFORK
        | Options::PTRACE_O_TRACEEXEC;
    ptrace::setoptions(main, options).map_err(|e| format!("PTRACE_SETOPTIONS: {e}"))?;
    let original = arm(main, &entries)?;

    let mut hit = HashSet::new();
    let mut order = Vec::new();
    let mut live: HashSet<Pid> = HashSet::from([main]);
    let mut main_done_at: Option<Instant> = None;
    ptrace::cont(main, None).map_err(|e| format!("PTRACE_CONT: {e}"))?;
    loop {
        let flags = WaitPidFlag::__WALL | WaitPidFlag::WNOHANG;
        let status = match waitpid(None, Some(flags)) {
            Ok(WaitStatus::StillAlive) => {
                if main_done_at.is_some_and(|t| t.elapsed() > QUIET) {
                    break;
                }
                std::thread::sleep(Duration::from_micros(200));
                continue;
            }
            Ok(s) => s,
            Err(Errno::ECHILD) => break,
            Err(e) => return Err(format!("waitpid: {e}")),
        };
        let Some(pid) = status.pid() else { continue };
        match status {
            WaitStatus::Exited(..) | WaitStatus::Signaled(..) => {
                live.remove(&pid);
                if pid == main {
                    main_done_at = Some(Instant::now());
                }
            }
            WaitStatus::PtraceEvent(_, _, event) if event == libc::PTRACE_EVENT_EXEC => {
                // Another program now (the container's): nothing of ours left in it.
                live.remove(&pid);
                let _ = ptrace::detach(pid, None);
            }
            WaitStatus::Stopped(_, Signal::SIGTRAP) => {
                live.insert(pid);
                let mut regs = ptrace::getregs(pid).map_err(|e| format!("getregs: {e}"))?;
                let at = regs.rip.wrapping_sub(1);
                if let (Some(section), Some(byte)) = (entries.get(&at), original.get(&at)) {
                    poke(pid, at, *byte)?;
                    regs.rip = at;
                    ptrace::setregs(pid, regs).map_err(|e| format!("setregs: {e}"))?;
                    if hit.insert(*section) {
                        order.push(*section);
                    }
                    let _ = ptrace::cont(pid, None);
                } else {
                    let _ = ptrace::cont(pid, Signal::SIGTRAP);
                }
            }
            WaitStatus::Stopped(_, sig) => {
                live.insert(pid);
                let deliver = (sig != Signal::SIGSTOP).then_some(sig);
                let _ = ptrace::cont(pid, deliver);
            }
            _ => {
                live.insert(pid);
                let _ = ptrace::cont(pid, None);
            }
        }
    }
    // What is still running (a created container's init) must not meet a breakpoint later.
    for pid in live {
        disarm(pid, &original)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .map_err(|e| format!("open {out}: {e}"))?;
    let mut w = BufWriter::new(file);
    for start in order {
        if let Some(sym) = &sections[&start].symbol {
            writeln!(w, "{sym}").map_err(|e| format!("write {out}: {e}"))?;
        }
    }
    w.flush().map_err(|e| format!("write {out}: {e}"))
}

fn mem(pid: Pid) -> Result<File, String> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("/proc/{pid}/mem"))
        .map_err(|e| format!("open /proc/{pid}/mem: {e}"))
}

fn poke(pid: Pid, at: u64, byte: u8) -> Result<(), String> {
    mem(pid)?
        .write_all_at(&[byte], at)
        .map_err(|e| format!("write /proc/{pid}/mem at {at:x}: {e}"))
}

/// Puts a breakpoint on every entry; returns the bytes they replaced.
fn arm(pid: Pid, entries: &BTreeMap<u64, u64>) -> Result<HashMap<u64, u8>, String> {
    let mem = mem(pid)?;
    let mut original = HashMap::new();
    for &at in entries.keys() {
        let mut byte = [0u8];
        mem.read_exact_at(&mut byte, at)
            .map_err(|e| format!("read /proc/{pid}/mem at {at:x}: {e}"))?;
        mem.write_all_at(&[INT3], at)
            .map_err(|e| format!("write /proc/{pid}/mem at {at:x}: {e}"))?;
        original.insert(at, byte[0]);
    }
    Ok(original)
}

/// Stops `pid`, puts back every original byte and lets it go. A tracee blocked in a call
/// (init in `accept`) sees the stop as an interruption it restarts.
fn disarm(pid: Pid, original: &HashMap<u64, u8>) -> Result<(), String> {
    kill(pid, Signal::SIGSTOP).map_err(|e| format!("kill {pid}: {e}"))?;
    loop {
        match waitpid(pid, Some(WaitPidFlag::__WALL)) {
            Ok(WaitStatus::Stopped(_, Signal::SIGSTOP)) => break,
            Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) => return Ok(()),
            Ok(_) => {
                let _ = ptrace::cont(pid, None);
            }
            Err(e) => return Err(format!("waitpid {pid}: {e}")),
        }
    }
    let mem = mem(pid)?;
    for (&at, &byte) in original {
        mem.write_all_at(&[byte], at)
            .map_err(|e| format!("write /proc/{pid}/mem at {at:x}: {e}"))?;
    }
    ptrace::detach(pid, None).map_err(|e| format!("detach {pid}: {e}"))
}

/// An input section of the output `.text`, from an lld map: its start, size and first symbol.
struct Section {
    /// The addresses of its symbols: where a call can enter it.
    entries: Vec<u64>,
    symbol: Option<String>,
}

/// The `.text` input sections of an lld `-Map` file, by start address. Lines are
/// `VMA LMA Size Align Out In Symbol`: after the four numbers, an output section name follows
/// one space, an input section (`lto.tmp:(.text._ZN...)`) nine, and each of its symbols 17.
fn text_sections(map: &str) -> BTreeMap<u64, Section> {
    let mut sections = BTreeMap::new();
    let mut in_text = false;
    let mut current: Option<u64> = None;
    for line in map.lines().skip(1) {
        let Some((numbers, gap, name)) = split_map_line(line) else {
            continue;
        };
        let [vma, _lma, size, _align] = numbers;
        match gap {
            1 => {
                in_text = name == ".text";
                current = None;
            }
            9 if in_text && size > 0 => {
                let section = Section {
                    entries: Vec::new(),
                    symbol: None,
                };
                sections.insert(vma, section);
                current = Some(vma);
            }
            17 if in_text => {
                if let Some(s) = current.and_then(|c| sections.get_mut(&c)) {
                    s.symbol.get_or_insert_with(|| name.to_string());
                    if !s.entries.contains(&vma) {
                        s.entries.push(vma);
                    }
                }
            }
            9 => current = None,
            _ => {}
        }
    }
    sections
}

/// The four hexadecimal columns of a map line, the number of spaces before its name, and the
/// name.
fn split_map_line(line: &str) -> Option<([u64; 4], usize, &str)> {
    let mut numbers = [0u64; 4];
    let mut rest = line;
    for n in &mut numbers {
        let trimmed = rest.trim_start_matches(' ');
        let end = trimmed.find(' ')?;
        *n = u64::from_str_radix(&trimmed[..end], 16).ok()?;
        rest = &trimmed[end..];
    }
    let name = rest.trim_start_matches(' ');
    Some((numbers, rest.len() - name.len(), name))
}
