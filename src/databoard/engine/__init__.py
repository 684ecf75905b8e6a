"""Engine helpers: run RAMP kits and submissions in child processes.

Pure helpers, free of Django and of any database code, called by the challenges app and by the
worker:

* :mod:`databoard.engine.kitinfo` reads a kit's ``problem.py`` (in a subprocess) and describes it;
* :mod:`databoard.engine.runner` lays out a submission, runs ``ramp-test`` on it under limits and
  reads back what it wrote.
"""
