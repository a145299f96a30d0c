"""Work handed to a thread pool and results handed back through futures:
submit orders what came before it, result() orders what the task did."""

from concurrent.futures import ThreadPoolExecutor


class Data:
    pass


def task(d, i):
    d.seen = d.value  # reads what the submitter wrote before submit
    d.value = i
    return i


if __name__ == "__main__":
    d = Data()
    with ThreadPoolExecutor(max_workers=1) as pool:
        for i in range(5):
            d.value = -i  # written before each submit, on a reused worker
            assert pool.submit(task, d, i).result() == i
            print(d.seen, d.value)
