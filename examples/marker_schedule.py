"""A lost update forced by a schedule written by hand, then every order of
the markers explored.

Each ``# racetrace: NAME`` comment marks a point reached just before its
line runs. ``racetrace.run_schedule`` runs the named actors to their
markers in the order given; ``racetrace.explore_markers`` runs every order
of the markers the actors reach.
"""

import racetrace


class Account:
    def __init__(self):
        self.balance = 0


def deposit(account):
    balance = account.balance  # racetrace: read
    account.balance = balance + 1  # racetrace: write


def both_counted(account):
    return account.balance == 2


actors = {"alice": deposit, "bob": deposit}
both_read_first = racetrace.run_schedule(
    Account, actors, ["alice:read", "bob:read", "alice:write", "bob:write"], both_counted
)
print("both read first:", "lost an update" if both_read_first.failed else "ok")
one_after_other = racetrace.run_schedule(Account, actors, ["alice:end", "bob:read"], both_counted)
print("alice first, then bob:", "lost an update" if one_after_other.failed else "ok")

result = racetrace.explore_markers(Account, actors, both_counted, stop_on_first=False, reproduce_on_failure=1)
print(f"{result.num_explored} marker orders, {len(result.failures)} lose an update; the first:")
print(result.stats["marker_schedules"][0])
