"""Manager soak (issue 12, run on demand): the real manager under Xvfb for an hour with two
VMs, one drawing mode 13h continuously, or a VM process started and stopped N times.

``python -m tools.soak --minutes 60 --out DIR`` / ``python -m tools.soak --cycles 200``.
:mod:`tools.soak.supervisor` starts Xvfb and openbox, builds a temporary library with the
CLI and runs :mod:`tools.soak.child` -- the manager through :func:`vmgui.app.run_gui`, as a
user starts it, plus a Qt timer that drives it and samples it from inside (RSS, threads,
fds, mappings, ``sys.getrefcount(None)``, Python object count, the VM processes' RSS) into
``samples.csv``; :mod:`tools.soak.summary` turns that and the manager's exit into
``summary.txt``/``summary.json``.  :mod:`tools.soak.probe` reads ``/proc``.
"""
