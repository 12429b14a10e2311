"""Files a user names as output (``sample --out``, and later ``grade``/handout): they never replace what a run owns.

A command that writes such a file calls :func:`check_output` first. It refuses a missing parent folder
(no folders created in a mistyped place), the command's own inputs, any file a run folder owns (config,
checkpoint, history, metrics, anything under ``samples/``) even with ``force``, and any other existing
file unless ``force`` is given.
"""

from __future__ import annotations

from pathlib import Path

from .run_folder import CHECKPOINT, CONFIG, HISTORY, METRICS, SAMPLES

RUN_FILES = (CONFIG, CHECKPOINT, HISTORY, METRICS)


def is_run_folder(folder: Path) -> bool:
    return (folder / CONFIG).is_file() or (folder / CHECKPOINT).is_file()


def run_owner(path: Path) -> Path | None:
    """The run folder that owns ``path`` (one of its files, or anything under its samples/), else None."""
    path = path.absolute()
    if path.name in RUN_FILES and (path.name == CHECKPOINT or is_run_folder(path.parent)):
        return path.parent
    for folder in path.parents:
        if folder.name == SAMPLES and is_run_folder(folder.parent):
            return folder.parent
    return None


def check_output(path: Path, option: str, force: bool = False, inputs: tuple[Path, ...] = ()) -> None:
    """Raise ValueError naming ``option`` unless writing ``path`` is safe (see module docstring)."""
    owner = run_owner(path)
    if owner is not None:
        raise ValueError(f"{option} {path}: that file belongs to the run in {owner} (its checkpoint, history, "
                         f"metrics or sample grids); write somewhere outside the run folder, e.g. {path.name} "
                         f"in the current folder")
    for source in inputs:
        if path.exists() and source.exists() and path.resolve() == source.resolve():
            raise ValueError(f"{option} {path}: that is this command's input; choose another file")
    if not path.parent.is_dir():
        raise ValueError(f"{option} {path}: the folder {path.parent} does not exist; create it first "
                         f"(mkdir -p {path.parent}) or fix the path")
    if path.exists() and not force:
        raise ValueError(f"{option} {path}: the file exists; choose a new name, or add --force to replace it")
    if path.is_dir():
        raise ValueError(f"{option} {path}: that is a folder; give a file name ending in .pt or .png")
