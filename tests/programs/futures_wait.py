"""concurrent.futures.wait and as_completed tell the caller a future is
finished without calling result(): what the job did happens before what
the caller does next. With the argument "first", the caller waits for the
FIRST_COMPLETED of two jobs and then reads what the *other* job writes: a
real race (that job may still be running)."""

import concurrent.futures as cf
import sys
import time


class State:
    a = 0
    b = 0
    c = 0


state = State()


def job_a():
    state.a = 1


def job_b():
    state.b = 1


def slow_job():
    time.sleep(0.2)
    state.c = 1  # MARK: slow write


if __name__ == "__main__":
    with cf.ThreadPoolExecutor(2) as ex:
        if sys.argv[1:] == ["first"]:
            fast = ex.submit(job_a)
            slow = ex.submit(slow_job)
            cf.wait([fast, slow], return_when=cf.FIRST_COMPLETED)
            print("c", state.c)  # MARK: early read
        else:
            done, _ = cf.wait([ex.submit(job_a)])
            print("a", state.a)
            for _f in cf.as_completed([ex.submit(job_b)]):
                print("b", state.b)
