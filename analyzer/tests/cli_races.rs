//! `racetrace races`: a lost update is one race naming both locations, as
//! text and as `--json`; accesses ordered by a lock or by spawn and join are
//! none.

mod common;

use common::cli::{json, lost_update, racetrace, spawn_join, trace_file, Dir};

#[test]
fn lost_update_is_one_race_naming_both_locations() {
    let dir = Dir::new();
    let path = trace_file(&dir, "lost.rtrace", lost_update(false));
    let run = racetrace(&["races".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert!(
        run.stdout.starts_with("1 data race found"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches("Data race on c.value").count(), 1);
    for needle in ["app.py:10", "app.py:11", "T1 (worker-1)", "T2 (worker-2)"] {
        assert!(
            run.stdout.contains(needle),
            "{needle:?} not in:\n{}",
            run.stdout
        );
    }
    for kind in ["read ", "write "] {
        assert!(
            run.stdout.contains(kind),
            "{kind:?} not in:\n{}",
            run.stdout
        );
    }
}

#[test]
fn races_json_fields() {
    let dir = Dir::new();
    let path = trace_file(&dir, "lost.rtrace", lost_update(false));
    let run = racetrace(&["races".as_ref(), "--json".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let v = json(&run);
    assert_eq!(v["file"], path.display().to_string());
    assert_eq!(v["truncated"], false);
    assert_eq!(v["events"], 12);
    assert_eq!(v["race_count"], 1);
    let races = v["races"].as_array().unwrap();
    assert_eq!(races.len(), 1);
    assert_eq!(races[0]["key_name"], "c.value");
    assert_eq!(races[0]["object_name"], "c");
    let mut locations = Vec::new();
    let mut actors = Vec::new();
    for pair in races[0]["pairs"].as_array().unwrap() {
        for side in ["first", "second"] {
            let a = &pair[side];
            assert!(a["kind"] == "read" || a["kind"] == "write", "{a}");
            assert!(a["event"].is_u64());
            assert_eq!(a["function"], "worker");
            locations.push(a["location"].as_str().unwrap().to_string());
            actors.push(a["actor"].as_u64().unwrap());
        }
        assert_ne!(pair["first"]["actor"], pair["second"]["actor"]);
    }
    assert!(
        locations.contains(&"app.py:10".to_string()),
        "{locations:?}"
    );
    assert!(
        locations.contains(&"app.py:11".to_string()),
        "{locations:?}"
    );
    assert!(actors.contains(&1) && actors.contains(&2), "{actors:?}");
}

#[test]
fn lost_update_under_a_lock_is_no_race() {
    let dir = Dir::new();
    let path = trace_file(&dir, "locked.rtrace", lost_update(true));
    let run = racetrace(&["races".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "No data races found.\n");
    let run = racetrace(&["races".as_ref(), "--json".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 0);
    let v = json(&run);
    assert_eq!(v["race_count"], 0);
    assert_eq!(v["races"].as_array().unwrap().len(), 0);
}

#[test]
fn spawn_and_join_order_parent_and_child() {
    let dir = Dir::new();
    let path = trace_file(&dir, "seq.rtrace", spawn_join());
    let run = racetrace(&["races".as_ref(), path.as_os_str()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "No data races found.\n");
}
