"""doctest saves the trace function and puts it back around each example
(`old = sys.gettrace(); ...; sys.settrace(old)`); under recording that must
put the recorder back, not install what gettrace returned as a Python
trace function. Prints doctest's results; the same plainly and recorded.

>>> total([1, 2, 3])
6
>>> import threading
>>> out = []
>>> t = threading.Thread(target=lambda: out.append(total(range(4))))
>>> t.start(); t.join()
>>> out
[6]
"""

import _threading_local
import doctest
import sys


def total(xs):
    """
    >>> total([])
    0
    """
    s = 0
    for x in xs:
        s += x
    return s


if __name__ == "__main__":
    main = sys.modules["__main__"]
    print(doctest.testmod(main))
    print(doctest.testmod(_threading_local))
