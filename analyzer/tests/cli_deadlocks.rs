//! `racetrace deadlocks`: locks taken in opposite orders are one potential
//! deadlock, as text and as `--json`; a consistent order is none.

mod common;

use common::cli::{json, lock_order, lost_update, racetrace, trace_file, Dir};

#[test]
fn opposite_lock_orders_are_one_potential_deadlock() {
    let dir = Dir::new();
    let path = trace_file(&dir, "bank.rtrace", lock_order());
    // The run itself finished fine.
    let info = racetrace(&["info".as_ref(), path.as_os_str()]);
    assert!(info.stdout.contains("outcome:    ok"), "{}", info.stdout);

    let run = racetrace(&["deadlocks".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("1 potential deadlock"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches("Potential deadlock #").count(), 1);
    for needle in [
        "lock_a",
        "lock_b",
        "T1 (transfer)",
        "T2 (audit)",
        "bank.py:10",
        "bank.py:11",
        "bank.py:20",
        "bank.py:21",
    ] {
        assert!(
            run.stdout.contains(needle),
            "{needle:?} not in:\n{}",
            run.stdout
        );
    }
    // No shared data, so no races.
    assert_eq!(racetrace(&["races".as_ref(), path.as_os_str()]).code, 0);
}

#[test]
fn deadlocks_json_fields() {
    let dir = Dir::new();
    let path = trace_file(&dir, "bank.rtrace", lock_order());
    let run = racetrace(&["deadlocks".as_ref(), "--json".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let v = json(&run);
    assert_eq!(v["deadlock_count"], 1);
    let d = &v["deadlocks"][0];
    let locks: Vec<&str> = d["locks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(locks.len(), 2);
    assert!(locks.contains(&"lock_a") && locks.contains(&"lock_b"));
    let edges = d["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 2);
    for e in edges {
        for field in [
            "actor",
            "actor_name",
            "held",
            "acquired",
            "held_location",
            "acquire_location",
        ] {
            assert!(!e[field].is_null(), "{field} missing in {e}");
        }
    }
}

#[test]
fn consistent_lock_order_is_no_deadlock() {
    let dir = Dir::new();
    let path = trace_file(&dir, "locked.rtrace", lost_update(true));
    let run = racetrace(&["deadlocks".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "No potential deadlocks found.\n");
}
