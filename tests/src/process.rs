//! Child processes killed on drop, with their output lines collected on a background thread.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A child process whose stdout lines are collected. Killed (SIGKILL) on drop if still running.
pub struct Proc {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    /// Output streams whose reader thread has not reached end of file yet.
    open_streams: Arc<AtomicUsize>,
    pub name: String,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command) -> Result<Proc> {
        let mut child =
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().with_context(|| format!("spawning {name}"))?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let open_streams = Arc::new(AtomicUsize::new(0));
        for (pipe, sink) in [
            (child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>), lines.clone()),
            (child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>), stderr.clone()),
        ] {
            if let Some(pipe) = pipe {
                let open = open_streams.clone();
                open.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                        if let Ok(mut v) = sink.lock() {
                            v.push(line);
                        }
                    }
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        }
        Ok(Proc { child, lines, stderr, open_streams, name: name.to_string() })
    }

    /// After the child exited: wait until the reader threads have taken everything it wrote
    /// (end of file on both pipes), at most until `deadline`. A fixed pause is not enough on a
    /// loaded machine, where a reader thread may not run for longer than any pause chosen.
    fn drain(&self, deadline: Instant) {
        while self.open_streams.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The exit status, if the process has exited (without waiting).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout_lines(&self) -> Vec<String> {
        self.lines.lock().map(|v| v.clone()).unwrap_or_default()
    }

    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Wait until a stdout line satisfies `pred`, or fail after `timeout` (with the output).
    pub fn wait_line(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Result<String> {
        let start = Instant::now();
        loop {
            if let Some(l) = self.stdout_lines().into_iter().find(|l| pred(l)) {
                return Ok(l);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Its last lines may still be in the pipes: read them all before judging.
                self.drain(start + timeout.max(Duration::from_secs(1)));
                if let Some(l) = self.stdout_lines().into_iter().find(|l| pred(l)) {
                    return Ok(l);
                }
                bail!(
                    "{} exited ({status}) before the expected line; stderr:\n{}",
                    self.name,
                    self.stderr_lines().join("\n")
                );
            }
            if start.elapsed() > timeout {
                bail!(
                    "{}: timed out after {timeout:?}; stdout:\n{}\nstderr:\n{}",
                    self.name,
                    self.stdout_lines().join("\n"),
                    self.stderr_lines().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait until a stderr line (the logs) satisfies `pred`, or fail after `timeout`.
    pub fn wait_stderr_line(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Result<String> {
        let start = Instant::now();
        loop {
            if let Some(l) = self.stderr_lines().into_iter().find(|l| pred(l)) {
                return Ok(l);
            }
            if start.elapsed() > timeout {
                bail!("{}: no such log line after {timeout:?}; stderr:\n{}", self.name, self.stderr_lines().join("\n"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Send a signal (e.g. libc::SIGTERM).
    pub fn signal(&self, sig: i32) {
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Wait for exit up to `timeout`, then SIGKILL.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<std::process::ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait()? {
                self.drain(start + timeout.max(Duration::from_secs(1)));
                return Ok(s);
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                bail!("{} did not exit within {timeout:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A log line without its terminal colours (CSI sequences: ESC [ parameters final-letter).
pub fn strip_ansi(l: &str) -> String {
    let mut out = String::with_capacity(l.len());
    let mut chars = l.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
