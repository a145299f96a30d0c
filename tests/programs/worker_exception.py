"""A worker thread fails; the main thread carries on."""

import threading


def worker():
    raise ValueError("boom in worker")  # MARK: raise


if __name__ == "__main__":
    t = threading.Thread(target=worker)
    t.start()
    t.join()
    print("main done")
