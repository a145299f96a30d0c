//! `racetrace info`: the header, actors and outcome of a trace, as text and
//! as `--json`, and what it says of a truncated trace.

mod common;

use common::cli::{json, lost_update, lost_update_small_chunks, racetrace, trace_file, Dir};
use racetrace_formats::{ActorId, Outcome, TraceFile};

#[test]
fn info_shows_header_actors_and_outcome() {
    let dir = Dir::new();
    let path = trace_file(&dir, "lost.rtrace", lost_update(false));
    let run = racetrace(&["info".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    for needle in [
        "program:    app.py",
        "mode:       synthetic",
        "events:     12",
        "chunks:     1",
        "outcome:    ok",
        "T1 (worker-1)",
        "parent T0 (main)",
    ] {
        assert!(
            run.stdout.contains(needle),
            "{needle:?} not in:\n{}",
            run.stdout
        );
    }
}

#[test]
fn info_json_fields() {
    let dir = Dir::new();
    let path = trace_file(&dir, "lost.rtrace", lost_update(false));
    let run = racetrace(&["info".as_ref(), "--json".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run);
    assert_eq!(v["program"], "app.py");
    assert_eq!(v["mode"], "synthetic");
    assert_eq!(v["format_version"], racetrace_formats::FORMAT_VERSION);
    assert_eq!(v["event_count"], 12);
    assert_eq!(v["chunk_count"], 1);
    assert_eq!(v["outcome"]["kind"], "ok");
    assert!(v["truncated"].is_null());
    let actors = v["actors"].as_array().unwrap();
    assert_eq!(actors.len(), 3);
    assert_eq!(actors[0]["name"], "main");
    assert!(actors[0]["parent"].is_null());
    assert_eq!(actors[1]["name"], "worker-1");
    assert_eq!(actors[1]["parent"], 0);
    assert_eq!(actors[1]["kind"], "thread");
    // main: 2 spawns + 2 joins; each worker: start, read, write, exit.
    assert_eq!(actors[0]["events"], 4);
    assert_eq!(actors[1]["events"], 4);
}

#[test]
fn info_reports_exception_outcome() {
    let dir = Dir::new();
    let outcome = Outcome::Exception {
        actor: ActorId(1),
        type_name: "AssertionError".into(),
        message: "expected 2, got 1".into(),
        traceback: "Traceback (most recent call last):\n  File \"app.py\", line 11\n".into(),
    };
    let path = dir.write("exc.rtrace", &lost_update(false).finish(&outcome));
    let run = racetrace(&["info".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout
            .contains("outcome:    exception in T1 (worker-1): AssertionError: expected 2, got 1"),
        "{}",
        run.stdout
    );
    let run = racetrace(&["info".as_ref(), "--json".as_ref(), path.as_os_str()]);
    let v = json(&run);
    assert_eq!(v["outcome"]["kind"], "exception");
    assert_eq!(v["outcome"]["actor"], 1);
    assert_eq!(v["outcome"]["type_name"], "AssertionError");
}

#[test]
fn truncated_trace_info_says_truncated_and_exits_0() {
    let dir = Dir::new();
    let b = lost_update_small_chunks();
    let path = dir.write("killed.rtrace", &b.finish_truncated());
    let run = racetrace(&["info".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("outcome:    TRUNCATED at offset "),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("complete chunk"), "{}", run.stdout);
    let warnings: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    assert!(warnings[0].starts_with("warning: "), "{}", run.stderr);
    assert!(warnings[0].contains("truncated"), "{}", run.stderr);

    let run = racetrace(&["info".as_ref(), "--json".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 0);
    let v = json(&run);
    assert!(v["outcome"].is_null());
    assert!(v["truncated"]["offset"].as_u64().unwrap() > 0);
    assert!(v["truncated"]["complete_chunks"].as_u64().unwrap() >= 1);
}

#[test]
fn trace_cut_mid_chunk_is_analyzed_with_a_warning() {
    let dir = Dir::new();
    let full = lost_update_small_chunks().finish(&Outcome::Ok);
    let full_path = dir.write("full.rtrace", &full);
    let chunks = TraceFile::open(&full_path).unwrap().chunks().to_vec();
    assert!(
        chunks.len() >= 3,
        "want several chunks, got {}",
        chunks.len()
    );
    // Cut in the middle of the last chunk: what a killed recorder leaves.
    let cut = chunks[chunks.len() - 1].offset as usize + 5;
    let path = dir.write("cut.rtrace", &full[..cut]);
    let run = racetrace(&["races".as_ref(), path.as_os_str()]);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.starts_with("warning: "), "{}", run.stderr);
    // Everything from the partial chunk on is lost; the rest is analyzed.
    let last = chunks[chunks.len() - 1].offset;
    let lost = format!("truncated at offset {last}");
    assert!(run.stderr.contains(&lost), "{lost:?} not in {}", run.stderr);
    let kept = format!("{} complete chunks", chunks.len() - 1);
    assert!(run.stderr.contains(&kept), "{kept:?} not in {}", run.stderr);
}

#[test]
fn info_json_outcome_kinds() {
    let dir = Dir::new();
    let cases = [
        (
            Outcome::Deadlock {
                description: "T1 waits for lock_b held by T2".into(),
            },
            "deadlock",
            "description",
            "deadlock: T1 waits for lock_b held by T2",
        ),
        (
            Outcome::Aborted {
                reason: "timeout after 5 s".into(),
            },
            "aborted",
            "reason",
            "aborted: timeout after 5 s",
        ),
    ];
    for (outcome, kind, field, line) in cases {
        let path = dir.write("o.rtrace", &lost_update(false).finish(&outcome));
        let v = json(&racetrace(&[
            "info".as_ref(),
            "--json".as_ref(),
            path.as_os_str(),
        ]));
        assert_eq!(v["outcome"]["kind"], kind);
        assert!(v["outcome"][field].is_string(), "{v}");
        let run = racetrace(&["info".as_ref(), path.as_os_str()]);
        assert!(
            run.stdout.contains(&format!("outcome:    {line}")),
            "{}",
            run.stdout
        );
    }
}
