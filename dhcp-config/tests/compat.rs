//! dhcpd.conf statements checked against ISC dhcpd 4.4.3: each file under
//! `tests/compat/` starts with the verdict of `dhcpd -t` (checked by
//! `tests/compat/check-dhcpd.sh` against the real dhcpd) and xdhcpd's:
//!
//! ```text
//! # dhcpd -t: accept | reject <dhcpd's message>
//! # xdhcpd: accept | reject <text of one error, file:line:column included>
//! # xdhcpd-warning: <text of one warning>      (any number)
//! ```
//!
//! xdhcpd's verdict equals dhcpd's except where it refuses on purpose what it cannot
//! honour yet (the file then says why).

use std::path::Path;

use dhcp_config::{MemoryLoader, parse_str};

struct Expect {
    dhcpd_accepts: bool,
    accept: bool,
    error: String,
    warnings: Vec<String>,
}

fn header(text: &str) -> Expect {
    let mut e = Expect { dhcpd_accepts: false, accept: false, error: String::new(), warnings: Vec::new() };
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        if let Some(v) = line.strip_prefix("# dhcpd -t: ") {
            e.dhcpd_accepts = v.starts_with("accept");
        } else if let Some(v) = line.strip_prefix("# xdhcpd: ") {
            e.accept = v == "accept";
            e.error = v.strip_prefix("reject ").unwrap_or_default().to_string();
        } else if let Some(v) = line.strip_prefix("# xdhcpd-warning: ") {
            e.warnings.push(v.to_string());
        }
    }
    e
}

#[test]
fn verdicts_match_dhcpd() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/compat")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "fixtures missing: {files:?}");
    let mut problems = Vec::new();
    for path in &files {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let text = std::fs::read_to_string(path).expect("fixture");
        let want = header(&text);
        // Where dhcpd rejects, xdhcpd must reject too.
        if !want.dhcpd_accepts && want.accept {
            problems.push(format!("{name}: header accepts what dhcpd rejects"));
        }
        match (parse_str(&name, &text, &MemoryLoader::default()), want.accept) {
            (Ok(p), true) => {
                let got: Vec<String> = p.warnings.iter().map(ToString::to_string).collect();
                for w in &want.warnings {
                    if !got.iter().any(|g| g.contains(w.as_str())) {
                        problems.push(format!("{name}: no warning containing {w:?}; got {got:?}"));
                    }
                }
            }
            (Ok(_), false) => problems.push(format!("{name}: accepted, expected an error containing {:?}", want.error)),
            (Err(e), true) => problems.push(format!("{name}: rejected, expected acceptance:\n{e}")),
            (Err(e), false) => {
                if !e.errors.iter().any(|x| x.to_string().contains(&want.error)) {
                    problems.push(format!("{name}: no error containing {:?}; got:\n{e}", want.error));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
