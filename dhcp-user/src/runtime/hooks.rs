//! Runs the programs of dhcpd.conf's `execute` statements (queued by the engine, see
//! `dhcp::classify::HookQueue`), off every request's path: an answer never waits for a
//! program. The program is started directly with its arguments (no shell, so an
//! argument taken from a client's packet is never interpreted); at most
//! [`MAX_RUNNING`] run at once; one still running after [`TIMEOUT`] is killed; the exit
//! status and the start of its output are logged.

use crate::dhcp::classify::HookQueue;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::time::Duration;

/// Programs running at once; more wait their turn (in the queue, bounded there).
pub const MAX_RUNNING: usize = 4;
/// How long a program may run (dhcpd waits for it without limit, holding up its
/// answers; xdhcpd neither waits nor lets one run forever).
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// Output kept for the log, per stream.
const OUTPUT_LOGGED: usize = 512;

/// How one program ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// It exited (`Some(code)`) or was killed by a signal (`None`).
    Exited { code: Option<i32>, stdout: String, stderr: String },
    /// It ran longer than the timeout and was killed.
    TimedOut,
    /// It could not be started.
    NotStarted(String),
}

/// Runs `command` to its end (or `timeout`), blocking the calling thread.
pub fn run(command: &dhcp_config::Command, timeout: Duration) -> Ended {
    let args: Vec<&std::ffi::OsStr> = command.args.iter().map(|a| std::ffi::OsStr::from_bytes(a)).collect();
    let child = std::process::Command::new(&command.program)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return Ended::NotStarted(e.to_string()),
    };
    // The output is read by helper threads while the program runs (reading only after
    // its exit could block a program that fills its pipe).
    fn drain<R: std::io::Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut r) = r {
                let _ = std::io::Read::read_to_end(&mut r, &mut v);
            }
            v
        })
    }
    let (out, err) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let start = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() >= timeout => {
                // Still ours to kill: it is not reaped until `wait` below.
                let _ = child.kill();
                let _ = child.wait();
                return Ended::TimedOut;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Ended::NotStarted(e.to_string()),
        }
    };
    let keep = |b: &[u8]| String::from_utf8_lossy(b.get(..OUTPUT_LOGGED).unwrap_or(b)).trim_end().to_string();
    let (stdout, stderr) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    Ended::Exited { code: status.code(), stdout: keep(&stdout), stderr: keep(&stderr) }
}

/// Runs what `queue` receives, forever (a task of the runtime).
pub async fn serve(queue: Arc<HookQueue>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_RUNNING));
    loop {
        queue.ready().await;
        for command in queue.take() {
            let Ok(permit) = Arc::clone(&slots).acquire_owned().await else { return };
            tokio::task::spawn_blocking(move || {
                let ended = run(&command, TIMEOUT);
                log(&command, &ended);
                drop(permit);
            });
        }
    }
}

fn log(command: &dhcp_config::Command, ended: &Ended) {
    let program = &command.program;
    match ended {
        Ended::Exited { code: Some(0), stdout, stderr } => {
            tracing::info!(target: "xdhcpd::execute", %program, %stdout, %stderr, "execute: exited 0")
        }
        Ended::Exited { code, stdout, stderr } => {
            tracing::warn!(target: "xdhcpd::execute", %program, ?code, %stdout, %stderr, "execute: failed")
        }
        Ended::TimedOut => {
            tracing::warn!(target: "xdhcpd::execute", %program, timeout = ?TIMEOUT, "execute: killed after the timeout")
        }
        Ended::NotStarted(e) => tracing::warn!(target: "xdhcpd::execute", %program, error = %e, "execute: not started"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(program: &str, args: &[&[u8]]) -> dhcp_config::Command {
        dhcp_config::Command { program: program.into(), args: args.iter().map(|a| a.to_vec()).collect() }
    }

    #[test]
    fn arguments_reach_the_program_as_they_are() {
        // No shell: `$(...)` and `;` are just bytes of an argument.
        let ended = run(&command("/bin/echo", &[b"a b", b"$(reboot);x"]), Duration::from_secs(10));
        assert_eq!(ended, Ended::Exited { code: Some(0), stdout: "a b $(reboot);x".into(), stderr: String::new() });
    }

    #[test]
    fn failures_timeouts_and_missing_programs_are_reported() {
        let ended = run(&command("/bin/false", &[]), Duration::from_secs(10));
        assert!(matches!(ended, Ended::Exited { code: Some(1), .. }), "{ended:?}");
        let t = std::time::Instant::now();
        assert_eq!(run(&command("/bin/sleep", &[b"5"]), Duration::from_millis(200)), Ended::TimedOut);
        assert!(t.elapsed() < Duration::from_secs(3));
        assert!(matches!(run(&command("/nonexistent/hook", &[]), Duration::from_secs(1)), Ended::NotStarted(_)));
    }
}
