"""Where the IMDB reviews and the Keras word index come from: a local data folder, or the official downloads.

Lookup order, for the reviews and the word index alike:

1. the data folder: the ``data_dir`` argument (config ``data.data_dir``), else ``$IMDB_LIGHTNING_DATA``.
   It holds an extracted ``aclImdb/`` or an ``aclImdb*.tar.gz``, plus ``imdb_word_index.json``. It may be
   read-only: nothing is ever written there. When a data folder is named, nothing is downloaded.
2. the download cache (``$IMDB_LIGHTNING_CACHE``, default ``~/.cache/imdb_lightning``), filled from the
   official URLs when ``download=True``: written to a temporary file, checked against its md5, then renamed,
   so an interrupted or corrupt download never passes for a good file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from imdb_lightning.utils.atomic import atomic_open, clear_stale_parts, unwritable
from imdb_lightning.utils.errors import DataError
from imdb_lightning.utils.terminal import interactive, progress

DATA_ENV = "IMDB_LIGHTNING_DATA"
CACHE_ENV = "IMDB_LIGHTNING_CACHE"
CONFIG_KEY = "data.data_dir"
WORD_INDEX_FILE = "imdb_word_index.json"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Download:
    """One official file: where it lives and the md5 it must have."""

    url: str
    md5: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


REVIEWS = Download(
    "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz", "7c2ac02c03563afcf9b574c7e56c153a"
)
WORD_INDEX = Download(
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb_word_index.json",
    "bfafd718b763782e994055a2d397834f",
)


class _ChecksumMismatch(Exception):
    pass


def how_to_get_data() -> str:
    return (
        f"Point the environment variable {DATA_ENV} (or the config key {CONFIG_KEY}, e.g. "
        f"`python -m imdb_lightning {CONFIG_KEY}=/path/to/data`) at a folder holding an extracted `aclImdb/` "
        f"or "
        f"`aclImdb_v1.tar.gz` and `{WORD_INDEX_FILE}`, or let the package download them into the cache "
        f"({CACHE_ENV}, now {cache_dir()}) from:\n  {REVIEWS.url}\n  {WORD_INDEX.url}"
    )


def cache_dir() -> Path:
    """The folder for downloads and encoded caches: ``$IMDB_LIGHTNING_CACHE`` or the user's cache dir."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "imdb_lightning"


def data_dir_from(data_dir: str | Path | None) -> Path | None:
    """The data folder in force, as an absolute path: the argument, else ``$IMDB_LIGHTNING_DATA``, else none.
    A relative folder is looked up from the working folder, then the shell's (:func:`resolve_relative`)."""
    chosen = _chosen(data_dir)
    return resolve_relative(Path(chosen).expanduser()) if chosen else None


def _chosen(data_dir: str | Path | None) -> str | Path | None:
    """The data folder as given: the argument, else ``$IMDB_LIGHTNING_DATA``, else none."""
    return data_dir if data_dir not in (None, "") else os.environ.get(DATA_ENV) or None


def resolve_relative(path: Path) -> Path:
    """``path`` made absolute: from the working folder, or from ``$PWD`` (the folder of the shell that started
    this process) when only there it exists. A notebook's kernel runs in the notebook's folder, while the
    user named the path in the shell that started Jupyter."""
    here = Path(os.path.abspath(path))
    if path.is_absolute() or here.exists():
        return here
    shell = os.environ.get("PWD", "")
    there = Path(os.path.abspath(Path(shell) / path)) if os.path.isabs(shell) else here
    return there if there.exists() else here


def _named(data_dir: str | Path | None) -> str:
    """How the data folder was named, for an error: the setting, and for a relative path the folders it was
    looked up from (the absolute path alone hides where a relative one was taken from)."""
    given = str(_chosen(data_dir))
    if Path(given).expanduser().is_absolute():
        return f"{CONFIG_KEY} or {DATA_ENV}"
    shell = os.environ.get("PWD", "")
    also = f" and the shell's {shell}" if os.path.isabs(shell) and Path(shell) != Path.cwd() else ""
    return f"{CONFIG_KEY} or {DATA_ENV} gave {given}, looked up from the working folder {Path.cwd()}{also}"


def find_reviews_in(folder: Path) -> Path | None:
    """An extracted ``aclImdb/`` (preferred: no decompression) or an ``aclImdb*.tar.gz`` inside ``folder``."""
    extracted = folder / "aclImdb"
    if (extracted / "train").is_dir() and (extracted / "test").is_dir():
        return extracted
    tarballs = sorted(folder.glob("aclImdb*.tar.gz"))
    return tarballs[0] if tarballs else None


def find_reviews(data_dir: str | Path | None = None, *, download: bool = True) -> Path:
    """Path to the reviews: an ``aclImdb`` folder or tarball (see the module docstring for the order)."""
    folder = data_dir_from(data_dir)
    if folder is not None:
        if not folder.exists() or not folder.is_dir():
            what = "does not exist" if not folder.exists() else "is not a folder"
            raise DataError(f"the data folder {folder} {what} ({_named(data_dir)}).\n" + how_to_get_data())
        found = find_reviews_in(folder)
        if found is None:
            raise DataError(
                f"no IMDB reviews (`aclImdb/` or `aclImdb*.tar.gz`) in the data folder {folder}.\n"
                + how_to_get_data()
            )
        return found
    cached = cache_dir() / REVIEWS.filename
    if cached.is_file():
        return cached
    if not download:
        raise DataError("the IMDB reviews are not available and downloading is off.\n" + how_to_get_data())
    return fetch(REVIEWS, cache_dir())


def find_word_index(data_dir: str | Path | None = None, *, download: bool = True) -> Path:
    """Path to the Keras word index, looked up like :func:`find_reviews`."""
    folder = data_dir_from(data_dir)
    if folder is not None:
        path = folder / WORD_INDEX_FILE
        if not path.is_file():
            raise DataError(
                f"no {WORD_INDEX_FILE} in the data folder {folder} (set data.word_index=corpus to rank words "
                f"by "
                "their training-set frequency instead).\n" + how_to_get_data()
            )
        return path
    cached = cache_dir() / WORD_INDEX.filename
    if cached.is_file():
        return cached
    if not download:
        raise DataError("the Keras word index is not available and downloading is off.\n" + how_to_get_data())
    return fetch(WORD_INDEX, cache_dir())


Opener = Callable[[str], "urllib.response.addinfourl"]


def fetch(source: Download, folder: Path, *, opener: Opener | None = None, attempts: int = 2) -> Path:
    """Download ``source`` into ``folder`` atomically, verifying its md5; one retry on a bad download.

    ``opener`` is ``urllib.request.urlopen`` unless a test passes its own.
    """
    opener = opener or (lambda url: urllib.request.urlopen(url, timeout=60))  # noqa: S310 (https URLs only)
    target = folder / source.filename
    problem = unwritable(folder)
    if problem:  # not a download that failed: say so before any byte is fetched
        raise DataError(
            f"cannot download into the cache folder {folder.absolute()} ({problem}): set {CACHE_ENV} to a "
            f"writable folder, or {DATA_ENV} to a folder with the data"
        )
    clear_stale_parts(folder)  # what a killed download left
    last_problem = ""
    for attempt in range(1, attempts + 1):
        try:
            with atomic_open(target) as out:
                got = _copy_with_progress(opener, source.url, out)
                if got != source.md5:
                    raise _ChecksumMismatch(f"checksum mismatch: md5 {got}, expected {source.md5}")
            return target
        except _ChecksumMismatch as err:
            last_problem = str(err)
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            last_problem = f"download failed: {err}"
        if attempt < attempts:
            log.warning("%s: %s; retrying", source.filename, last_problem)
    raise DataError(
        f"could not download {source.url} ({last_problem}); nothing was kept.\n" + how_to_get_data()
    )


def _copy_with_progress(opener: Opener, url: str, out, chunk: int = 1 << 16) -> str:
    """Stream ``url`` into ``out``, printing progress to stderr about once a second; return the md5."""
    digest = hashlib.md5()
    with opener(url) as response:
        total = int(response.headers.get("Content-Length") or 0)
        done, last = 0, 0.0
        name = url.rsplit("/", 1)[-1]
        every = 1.0 if interactive() else 10.0  # seconds between progress lines; a log keeps each one
        while block := response.read(chunk):
            out.write(block)
            digest.update(block)
            done += len(block)
            now = time.monotonic()
            if now - last >= every:
                last = now
                share = f" {100 * done / total:5.1f}%" if total else ""
                progress(f"downloading {name}: {done / 1e6:6.1f} MB{share}")
        progress(f"downloading {name}: {done / 1e6:6.1f} MB done", done=True)
    if total and done != total:
        raise OSError(f"connection closed after {done} of {total} bytes")
    return digest.hexdigest()
