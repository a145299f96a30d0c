"""Forks many times while two threads write a shared counter, so some
forks happen while the trace is being flushed. Each child runs traced code
and threads of its own, then leaves: by os._exit, by sys.exit (atexit runs
in the child) or after recording a trace of its own."""

import os
import sys
import threading
import time

import racetrace


class Counter:
    n = 0


shared = Counter()
stop = threading.Event()


def work() -> None:
    while not stop.is_set():
        for _ in range(200):
            shared.n += 1


def child_work() -> int:
    box = Counter()
    t = threading.Thread(target=lambda: setattr(box, "n", 7))
    t.start()
    t.join()
    return box.n


def child(i: int, own_trace: str) -> None:
    if i == 0:
        with racetrace.record(own_trace):
            child_work()
        os._exit(50)
    if child_work() != 7:
        os._exit(1)
    if i % 2:
        sys.exit(52)
    os._exit(51)


def main() -> None:
    forks, own_trace = int(sys.argv[1]), sys.argv[2]
    workers = [threading.Thread(target=work) for _ in range(2)]
    for t in workers:
        t.start()
    codes: dict[str, int] = {}
    for i in range(forks):
        pid = os.fork()
        if pid == 0:
            child(i, own_trace)
        deadline = time.monotonic() + 10
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = str(os.waitstatus_to_exitcode(status))
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                code = "hung"
                break
            time.sleep(0.001)
        codes[code] = codes.get(code, 0) + 1
    stop.set()
    for t in workers:
        t.join()
    print(sorted(codes.items()))


main()
