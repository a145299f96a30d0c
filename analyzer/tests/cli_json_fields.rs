//! Every field the README documents for the `--json` output of `racetrace
//! info`, `races` and `deadlocks` is present.

mod common;

use common::cli::{json, lock_order, lost_update, racetrace, trace_file, Dir};

/// Every field the README documents for `--json` is present.
#[test]
fn json_has_every_documented_field() {
    let dir = Dir::new();
    let lost = trace_file(&dir, "lost.rtrace", lost_update(false));
    let info = json(&racetrace(&[
        "info".as_ref(),
        "--json".as_ref(),
        lost.as_os_str(),
    ]));
    for field in [
        "file",
        "format_version",
        "python_version",
        "racetrace_version",
        "mode",
        "program",
        "seed",
        "started_at",
        "event_count",
        "chunk_count",
        "actors",
        "outcome",
        "truncated",
    ] {
        assert!(info.get(field).is_some(), "info: no {field}");
    }
    for field in ["id", "name", "kind", "parent", "created_by_event", "events"] {
        assert!(
            info["actors"][1].get(field).is_some(),
            "info actors: no {field}"
        );
    }

    let races = json(&racetrace(&[
        "races".as_ref(),
        "--json".as_ref(),
        lost.as_os_str(),
    ]));
    for field in [
        "file",
        "truncated",
        "events",
        "actors",
        "race_count",
        "race_detections",
        "races",
    ] {
        assert!(races.get(field).is_some(), "races: no {field}");
    }
    let group = &races["races"][0];
    for field in ["key_name", "object_name", "occurrences", "pairs"] {
        assert!(group.get(field).is_some(), "race group: no {field}");
    }
    for field in [
        "actor",
        "actor_name",
        "kind",
        "location",
        "function",
        "event",
    ] {
        assert!(
            group["pairs"][0]["first"].get(field).is_some(),
            "race access: no {field}"
        );
        assert!(
            group["pairs"][0]["second"].get(field).is_some(),
            "race access: no {field}"
        );
    }

    let bank = trace_file(&dir, "bank.rtrace", lock_order());
    let dl = json(&racetrace(&[
        "deadlocks".as_ref(),
        "--json".as_ref(),
        bank.as_os_str(),
    ]));
    for field in [
        "file",
        "truncated",
        "events",
        "actors",
        "deadlock_count",
        "lock_order_edges",
        "deadlocks",
    ] {
        assert!(dl.get(field).is_some(), "deadlocks: no {field}");
    }
    assert!(dl["deadlocks"][0]["locks"][0].get("name").is_some());
    for field in [
        "actor",
        "actor_name",
        "held",
        "acquired",
        "held_location",
        "acquire_location",
    ] {
        assert!(
            dl["deadlocks"][0]["edges"][0].get(field).is_some(),
            "edge: no {field}"
        );
    }
}
