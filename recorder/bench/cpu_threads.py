"""A CPU-bound thread program: four threads each run a numeric loop on
locals and, every 64 iterations, update a shared histogram under a lock.
Used by bench_programs.py, recorded and plainly."""

import threading

N = 300_000
histogram = {}
lock = threading.Lock()


def work(seed):
    x = seed
    for i in range(N):
        x = (x * 1103515245 + 12345) % 2147483648
        if i % 64 == 0:
            with lock:
                histogram[x % 16] = histogram.get(x % 16, 0) + 1


threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(sum(histogram.values()))
