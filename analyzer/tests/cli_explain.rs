//! `racetrace explain`: findings ranked by relevance to the failure, the
//! sources' status, the JSON and HTML outputs, and bad input.

mod common;

use common::cli::*;
use common::MAIN;
use racetrace_formats::builder::TraceBuilder;
use racetrace_formats::{ActorId, MemberKind, ObjKind, Outcome};

const APP: &str = "import threading\nclass C:\n    pass\ndef bump(c):\n    v = c.hits\n    c.hits = v + 1\ndef log(c):\n    c.log.append(1)\ndef main():\n    assert c.hits == 2\n";

/// Two unrelated races: `c.log` (a read and a write, detected first) and
/// `c.hits` (a lost update). The run fails on
/// line 10, which reads `c.hits`: that race must come first.
fn two_races(dir: &Dir, with_source: bool) -> std::path::PathBuf {
    let mut b = TraceBuilder::new("app.py");
    if with_source {
        b.source("app.py", APP.as_bytes());
    }
    let spawn = b.loc("app.py", 9, "main");
    let fail = b.loc("app.py", 10, "main");
    let log_read = b.loc("app.py", 8, "log");
    let read = b.loc("app.py", 5, "bump");
    let write = b.loc("app.py", 6, "bump");
    let c = b.object(ObjKind::Instance, "C", "c");
    let log = b.key(c, MemberKind::Attr, "log");
    let hits = b.key(c, MemberKind::Attr, "hits");
    let t1 = b.spawn(MAIN, "w1", spawn);
    let t2 = b.spawn(MAIN, "w2", spawn);
    b.start(t1, read);
    b.start(t2, read);
    b.read(t1, log, log_read);
    b.write(t2, log, log_read);
    b.read(t1, hits, read);
    b.read(t2, hits, read);
    b.write(t1, hits, write);
    b.write(t2, hits, write);
    b.exit(t1, write);
    b.exit(t2, write);
    b.join(MAIN, t1, spawn);
    b.join(MAIN, t2, spawn);
    b.read(MAIN, hits, fail);
    let bytes = b.finish(&Outcome::Exception {
        actor: ActorId(0),
        type_name: "AssertionError".into(),
        message: "assert 1 == 2".into(),
        traceback: "Traceback (most recent call last):\n  File \"/x/app.py\", line 10, in main\n    assert c.hits == 2\nAssertionError: assert 1 == 2\n".into(),
    });
    let path = dir.write("two.rtrace", &bytes);
    std::fs::write(dir.0.path().join("app.py"), APP).unwrap();
    path
}

#[test]
fn the_race_on_the_failing_line_comes_first() {
    let dir = Dir::new();
    let trace = two_races(&dir, true);
    let run = racetrace(&["explain".as_ref(), trace.as_os_str(), "--json".as_ref()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run);
    assert_eq!(v["race_count"], 2);
    let f = &v["findings"];
    assert_eq!(f[0]["key_name"], "c.hits");
    assert!(
        f[0]["relevance"]
            .as_str()
            .unwrap()
            .contains("c.hits is accessed on the failing line (app.py:10)"),
        "{}",
        f[0]["relevance"]
    );
    // The other race is on the same object: related, but less.
    assert_eq!(f[1]["key_name"], "c.log");
    assert_eq!(
        f[1]["relevance"],
        "c is accessed on the failing line (app.py:10)"
    );
    assert!(f[0]["score"].as_u64() > f[1]["score"].as_u64());
    assert_eq!(v["outcome"]["failing"]["line"], 10);
    // The steps that matter: both sides of the top race highlighted, with
    // their source lines read from the file.
    let marked: Vec<&serde_json::Value> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["highlighted"] == true)
        .collect();
    assert_eq!(marked.len(), 2);
    assert_eq!(marked[0]["source"], "v = c.hits");
    // Spawn -> start and exit -> join are the edges among them.
    let kinds: Vec<&str> = v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"spawn") && kinds.contains(&"join"),
        "{kinds:?}"
    );
    assert_eq!(v["sources"][0]["status"], "unchanged");
    // T2 read, T1 wrote, T2 wrote: the steps show a lost update.
    let l = &v["lost_update"];
    assert_eq!(l["key"], "c.hits");
    assert_eq!(l["reader"], "T2 (w2)");
    assert_eq!(l["other"], "T1 (w1)");
    assert!(l["read"].as_u64() < l["other_write"].as_u64());
    assert!(l["other_write"].as_u64() < l["stale_write"].as_u64());
    let text = racetrace(&["explain".as_ref(), trace.as_os_str()]).stdout;
    assert!(
        text.contains("lost update: T2 (w2) read c.hits at app.py:5"),
        "{text}"
    );
}

#[test]
fn changed_lines_are_marked() {
    let dir = Dir::new();
    let trace = two_races(&dir, true);
    let edited = APP.replace("    c.hits = v + 1", "    c.hits = v + 2");
    std::fs::write(dir.0.path().join("app.py"), edited).unwrap();
    let run = racetrace(&["explain".as_ref(), trace.as_os_str()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("c.hits = v + 2   <- CHANGED since recording"),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("app.py: CHANGED since recording (changed lines are marked)"));
    // The unchanged line is not marked.
    assert!(run.stdout.contains("| v = c.hits\n"), "{}", run.stdout);
    let v = json(&racetrace(&[
        "explain".as_ref(),
        trace.as_os_str(),
        "--json".as_ref(),
    ]));
    assert_eq!(v["sources"][0]["status"], "changed");
}

#[test]
fn a_trace_without_digests_says_so() {
    let dir = Dir::new();
    let trace = two_races(&dir, false);
    let v = json(&racetrace(&[
        "explain".as_ref(),
        trace.as_os_str(),
        "--json".as_ref(),
    ]));
    assert_eq!(v["sources"][0]["status"], "not-recorded");
    std::fs::remove_file(dir.0.path().join("app.py")).unwrap();
    let run = racetrace(&["explain".as_ref(), trace.as_os_str()]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("app.py: not found here"),
        "{}",
        run.stdout
    );
}

#[test]
fn html_report_is_self_contained() {
    let dir = Dir::new();
    let trace = two_races(&dir, true);
    let html = dir.0.path().join("r.html");
    let run = racetrace(&[
        "explain".as_ref(),
        trace.as_os_str(),
        "--html".as_ref(),
        html.as_os_str(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_eq!(page.matches("class=\"ev race\"").count(), 2);
    assert_eq!(page.matches("<th class=\"lane\">").count(), 3);
    assert!(page.contains("v = c.hits"));
    // Nothing is fetched: no external URL in a src or href.
    assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
}

#[test]
fn a_deadlocked_run_ranks_its_cycle_first() {
    let dir = Dir::new();
    let mut b = TraceBuilder::new("locks.py");
    let l1 = b.loc("locks.py", 5, "a");
    let l2 = b.loc("locks.py", 6, "a");
    let l3 = b.loc("locks.py", 9, "b");
    let l4 = b.loc("locks.py", 10, "b");
    let la = b.object(ObjKind::Lock, "_thread.lock", "lock_a");
    let lb = b.object(ObjKind::Lock, "_thread.lock", "lock_b");
    let t1 = b.spawn(MAIN, "a", l1);
    let t2 = b.spawn(MAIN, "b", l1);
    b.start(t1, l1);
    b.acquire(t1, la, l1);
    b.acquire(t1, lb, l2);
    b.release(t1, lb, l2);
    b.release(t1, la, l1);
    b.start(t2, l3);
    b.acquire(t2, lb, l3);
    b.acquire(t2, la, l4);
    b.release(t2, la, l4);
    b.release(t2, lb, l3);
    let trace = dir.write(
        "dl.rtrace",
        &b.finish(&Outcome::Deadlock {
            description: "T1 (a) waits at locks.py:6 for lock `lock_b`; lock_b is held by T2 (b), acquired at locks.py:9\n  T2 (b) waits at locks.py:10 for lock `lock_a`".into(),
        }),
    );
    let v = json(&racetrace(&[
        "explain".as_ref(),
        trace.as_os_str(),
        "--json".as_ref(),
    ]));
    assert_eq!(v["outcome"]["kind"], "deadlock");
    assert_eq!(v["findings"][0]["kind"], "potential-deadlock");
    assert_eq!(
        v["findings"][0]["relevance"],
        "the run deadlocked on these locks"
    );
}

#[test]
fn unreadable_traces_get_the_usual_one_line_errors() {
    let dir = Dir::new();
    let foreign = dir.write("foreign.rtrace", b"print('hello')\n");
    let run = racetrace(&["explain".as_ref(), foreign.as_os_str()]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("bad magic"), "{}", run.stderr);
    assert!(run.stdout.is_empty());

    let mut bytes = lost_update(false).finish(&Outcome::Ok);
    let at = bytes.len() / 2;
    bytes[at] ^= 0x55;
    let corrupt = dir.write("corrupt.rtrace", &bytes);
    let run = racetrace(&["explain".as_ref(), corrupt.as_os_str()]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);

    let truncated = dir.write("cut.rtrace", &lost_update_small_chunks().finish_truncated());
    let run = racetrace(&["explain".as_ref(), truncated.as_os_str()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.starts_with("warning:"), "{}", run.stderr);
    assert!(run.stdout.contains("INCOMPLETE: TRUNCATED at offset"));
    assert!(run.stdout.contains("unknown: the trace has no outcome"));

    let run = racetrace(&["explain", "/nonexistent/x.rtrace"]);
    assert_eq!(run.code, 2);
    assert!(run
        .stderr
        .starts_with("error: /nonexistent/x.rtrace: io error"));
}

/// A trace of format version 2 (no source digests) is explained all the
/// same; its sources cannot be checked for changes.
#[test]
fn an_older_trace_is_explained() {
    let dir = Dir::new();
    let mut bytes = lost_update(false).finish(&Outcome::Ok);
    let len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    bytes[20] = 2;
    let crc = crc32fast::hash(&bytes[20..20 + len]);
    bytes[16..20].copy_from_slice(&crc.to_le_bytes());
    let trace = dir.write("v2.rtrace", &bytes);
    let run = racetrace(&["explain".as_ref(), trace.as_os_str(), "--json".as_ref()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run);
    assert_eq!(v["format_version"], 2);
    assert_eq!(v["findings"][0]["key_name"], "c.value");
    assert!(v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] != "unchanged" && s["status"] != "changed"));
}
