"""Grading in batch: ``python -m genlab grade SUBMISSIONS_DIR``.

Each submitted notebook (``.ipynb`` or MyST ``.md``) is executed with papermill in a fresh ``genlab``
kernel, in a private copy (:mod:`.submission`), followed by the hidden tests (every exercise of its
chapter, :func:`genlab.exercises.grade`); :mod:`.batch` runs them in parallel with a per-notebook
timeout and writes the grade book (CSV) and one feedback file per student.
"""
