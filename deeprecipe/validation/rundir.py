"""A training run's output folder: the manifest of what deeprecipe wrote there.

``deeprecipe train --out DIR`` writes ``DIR/.deeprecipe-run.json`` *before* any other file,
listing every file and folder the run may create (relative names).  ``--overwrite``
then removes exactly those (:func:`remove_run_files`) and nothing else:

* a folder without a manifest was not created by ``deeprecipe train`` (or by an older
  version): ``--overwrite`` refuses it and deletes nothing (:func:`read_manifest`
  returns None; the caller says so);
* a listed name is removed only if it is in the set of names the job can write (a
  manifest edited to list ``notes.txt`` or ``../x`` removes nothing of that), and only
  as the file or link itself (``os.unlink``; a symbolic link's target is never touched);
* a listed folder is removed only when it is empty afterwards (files someone else put
  in ``checkpoints/`` stay, and so does the folder);
* orphan temporary files of interrupted atomic writes of the listed names go too;
* a run never writes through a symbolic link in place of one of its names
  (``checkpoints -> /elsewhere``): :func:`check_no_links` refuses the folder.
"""
from __future__ import annotations

import json
import os
import stat

from .tempfiles import clean_orphans

MANIFEST = ".deeprecipe-run.json"
KIND = "deeprecipe-train-run"
FORMAT = 1


class RunDirError(ValueError):
    """The output folder holds something this command must not overwrite or cannot read."""


def _safe_relative(name) -> bool:
    if not isinstance(name, str) or not name or name.startswith(("/", "\\")) or "\\" in name:
        return False
    parts = name.split("/")
    return all(p not in ("", ".", "..") for p in parts)


def write_manifest(out, files, dirs, write_text) -> None:
    """Record that this run owns ``files`` and ``dirs`` in ``out`` (``write_text`` is an
    atomic text writer)."""
    doc = {"kind": KIND, "format": FORMAT, "files": sorted(files), "dirs": sorted(dirs)}
    write_text(os.path.join(out, MANIFEST), json.dumps(doc, indent=1) + "\n")


def read_manifest(out) -> dict | None:
    """The manifest of ``out``, None when there is none; :class:`RunDirError` when it is
    not a regular file or not a manifest."""
    path = os.path.join(out, MANIFEST)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        raise RunDirError(f"{path!r} is not a regular file (a link or a folder); deeprecipe did not write it. "
                          "Nothing was deleted; choose another --out")
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise RunDirError(f"{path!r} cannot be read ({e}); nothing was deleted. Remove the run's files "
                          "yourself or choose another --out") from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND or not isinstance(doc.get("files"), list) \
            or not isinstance(doc.get("dirs"), list):
        raise RunDirError(f"{path!r} is not a deeprecipe run manifest; nothing was deleted. Choose another --out")
    return doc


def check_no_links(out, names) -> None:
    """Refuse an output folder where a name the run writes (``checkpoints``, ``metrics.csv``, ...)
    is a symbolic link: writing through it would put files outside ``out``."""
    for rel in names:
        p = os.path.join(out, *rel.split("/"))
        if os.path.islink(p):
            raise RunDirError(f"{p!r} is a symbolic link (to {os.readlink(p)!r}); a run writes only inside "
                              f"{out!r}, never through links: remove the link or choose another --out")


def owned_paths(out, manifest: dict, allowed_files, allowed_dirs) -> tuple[list, list]:
    """The manifest's files and folders that the job can write (others are ignored)."""
    files = [f for f in manifest["files"] if _safe_relative(f) and f in set(allowed_files)]
    dirs = [d for d in manifest["dirs"] if _safe_relative(d) and d in set(allowed_dirs)]
    return files, dirs


def remove_run_files(out, manifest: dict, allowed_files, allowed_dirs) -> list[str]:
    """Delete what the manifest lists (see the module docstring); returns the removed paths."""
    files, dirs = owned_paths(out, manifest, allowed_files, allowed_dirs)
    removed = []
    for rel in files:
        p = os.path.join(out, *rel.split("/"))
        parent = os.path.dirname(p)
        if os.path.islink(parent) or (parent != out and not os.path.isdir(parent)):
            continue  # the folder was replaced by a link or a file: not ours any more
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            st = None
        if st is not None and (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
            os.unlink(p)
            removed.append(p)
        if os.path.isdir(parent) and not os.path.islink(parent):
            removed += clean_orphans(p)
    for rel in sorted(dirs, key=lambda d: -d.count("/")):
        p = os.path.join(out, *rel.split("/"))
        if os.path.isdir(p) and not os.path.islink(p):
            try:
                os.rmdir(p)  # only when empty: someone else's files keep the folder
                removed.append(p)
            except OSError:
                pass
    man = os.path.join(out, MANIFEST)
    if os.path.lexists(man):
        os.unlink(man)
        removed.append(man)
    return removed
