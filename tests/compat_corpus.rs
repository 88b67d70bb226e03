//! Same verdicts, same answers: real dhcpd.conf files (`tests/corpus/dhcpd.conf/`, origins in
//! its SOURCES.md) against the real ISC dhcpd (see `xdhcpd_tests::compat`). `cargo xtask
//! compat` runs these two tests and prints the tables.

use std::collections::BTreeSet;
use xdhcpd_tests::compat::packet::kind_name;
use xdhcpd_tests::compat::{
    Bench, Known, Scratch, Server, Verdict, battery, corpus_files, corpus_text, dhcpd_verdict, differences, prepare,
    xdhcpd_verdict,
};

fn name(p: &std::path::Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Both verdicts of one corpus file (includes pointing at the saved included files).
fn verdicts(path: &std::path::Path, dir: &std::path::Path) -> (Verdict, Verdict) {
    let conf = dir.join(name(path));
    std::fs::write(&conf, corpus_text(path, false).expect("corpus file")).expect("scratch");
    (dhcpd_verdict(&conf).expect("dhcpd -t"), xdhcpd_verdict(&conf).expect("xdhcpd --check"))
}

#[test]
fn corpus_verdicts_match_dhcpd() {
    let known = Known::load().expect("DIFFERENCES");
    let scratch = Scratch::new("xdhcpd-verdicts-").expect("scratch");
    let files = corpus_files().expect("corpus");
    assert!(files.len() >= 40, "the corpus has {} files", files.len());
    let (mut same, mut listed, mut problems, mut seen) = (0, 0, Vec::new(), BTreeSet::new());
    println!("{:<48} {:<7} {:<7} note", "file", "dhcpd", "xdhcpd");
    for path in &files {
        let (d, x) = verdicts(path, &scratch.0);
        let key = format!("{} verdict", name(path));
        let note = match (&d, &x) {
            (Verdict::Accept, Verdict::Accept) => {
                same += 1;
                String::new()
            }
            (Verdict::Reject(_), Verdict::Reject(e)) => {
                same += 1;
                if !e.contains(':') {
                    problems.push(format!("{}: xdhcpd's error has no file:line:column: {e}", name(path)));
                }
                e.clone()
            }
            (Verdict::Reject(e), Verdict::Accept) => {
                problems.push(format!("{}: xdhcpd accepts what dhcpd rejects ({e})", name(path)));
                format!("dhcpd: {e}")
            }
            (Verdict::Accept, Verdict::Reject(e)) => {
                seen.insert(key.clone());
                match known.reason(&key) {
                    Some(why) => {
                        listed += 1;
                        format!("known: {why} ({e})")
                    }
                    None => {
                        problems.push(format!("{}: xdhcpd rejects what dhcpd accepts: {e}", name(path)));
                        e.clone()
                    }
                }
            }
        };
        println!("{:<48} {:<7} {:<7} {}", name(path), d.word(), x.word(), note);
    }
    for k in known.stale("verdict", &seen) {
        problems.push(format!("{k} is listed in DIFFERENCES but the verdicts agree now: remove it"));
    }
    println!("verdicts: {same} of {} files the same, {listed} known differences", files.len());
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn corpus_answers_match_dhcpd() {
    if !xdhcpd_tests::require_root() {
        return;
    }
    let known = Known::load().expect("DIFFERENCES");
    let files = corpus_files().expect("corpus");
    let (mut compared, mut agreed, mut listed, mut skipped) = (0, 0, 0, Vec::new());
    let (mut problems, mut seen) = (Vec::new(), BTreeSet::new());
    for path in &files {
        let scratch = Scratch::new("xdhcpd-answers-").expect("scratch");
        let (d, x) = verdicts(path, &scratch.0);
        if !(d.accepts() && x.accepts()) {
            continue;
        }
        let prepared = match prepare(&corpus_text(path, true).expect("corpus"), &scratch.0) {
            Ok(p) => p,
            Err(e) => {
                skipped.push(format!("{}: {e:#}", name(path)));
                continue;
            }
        };
        if dhcpd_verdict(&scratch.0.join("translated.conf")).map(|v| !v.accepts()).unwrap_or(true) {
            skipped.push(format!("{}: dhcpd refuses the translated file", name(path)));
            continue;
        }
        let requests = battery(&prepared);
        let mut answers = Vec::new();
        for which in [Server::Dhcpd, Server::Xdhcpd] {
            let bench = Bench::start(which, &prepared, &scratch.0)
                .unwrap_or_else(|e| panic!("{}: starting {which:?}: {e:#}", name(path)));
            answers.push(bench.run(&requests).unwrap_or_else(|e| panic!("{}: {which:?}: {e:#}", name(path))));
        }
        let mut file_agreed = 0;
        for (i, req) in requests.iter().enumerate() {
            compared += 1;
            let (d, x) = (&answers[0][i], &answers[1][i]);
            let mut diffs = Vec::new();
            for (stage, dr, xr) in [("first reply", &d.0, &x.0), ("reply to REQUEST", &d.1, &x.1)] {
                match (dr, xr) {
                    (None, None) => {}
                    (Some(a), None) => diffs.push(format!("{stage}: dhcpd {}, xdhcpd none", kind_name(a.kind()))),
                    (None, Some(b)) => diffs.push(format!("{stage}: dhcpd none, xdhcpd {}", kind_name(b.kind()))),
                    (Some(a), Some(b)) => {
                        diffs.extend(differences(&prepared.config, a, b).into_iter().map(|s| format!("{stage}: {s}")))
                    }
                }
            }
            let key = format!("{} answer {}", name(path), req.label);
            if diffs.is_empty() {
                agreed += 1;
                file_agreed += 1;
                continue;
            }
            seen.insert(key.clone());
            match known.reason(&key) {
                Some(why) => {
                    listed += 1;
                    println!("  known  {key}: {why}\n         {}", diffs.join("\n         "));
                }
                None => problems.push(format!("{key}:\n    {}", diffs.join("\n    "))),
            }
        }
        println!("{:<48} {file_agreed:>3} of {:>3} answers the same", name(path), requests.len());
    }
    // Only the files of this run can show a line stale (COMPAT_FILES may pick a few).
    let run: BTreeSet<String> = files.iter().map(|p| name(p)).collect();
    for k in known.stale("answer", &seen) {
        if k.split_whitespace().next().is_some_and(|f| run.contains(f)) {
            problems.push(format!("{k} is listed in DIFFERENCES but the answers agree now: remove it"));
        }
    }
    for s in &skipped {
        println!("  not compared: {s}");
    }
    println!(
        "answers: {agreed} of {compared} requests the same, {listed} known differences, {} files not compared",
        skipped.len()
    );
    assert!(compared > 0, "no file was compared");
    assert!(problems.is_empty(), "{} differences from dhcpd:\n{}", problems.len(), problems.join("\n"));
}
