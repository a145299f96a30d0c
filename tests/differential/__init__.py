"""Differential soundness test of ``explore_dpor``: random small programs
(``generator``), an independent instruction-level scheduler that runs them
under random schedules (``baton``), and the comparison of what each sees
(``compare``)."""
