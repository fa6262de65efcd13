"""Finding the data: data folder first, then the download cache; downloads are verified and atomic."""

from __future__ import annotations

import hashlib
import io
import urllib.error
from pathlib import Path

import pytest
from synthetic import make_data_dir

from imdb_lightning.data import DataError
from imdb_lightning.data.sources import (
    REVIEWS,
    WORD_INDEX,
    Download,
    cache_dir,
    fetch,
    find_reviews,
    find_word_index,
)


def test_extracted_folder_is_preferred_and_tarball_is_found(tmp_path):
    folder = make_data_dir(tmp_path / "f", form="folder")
    tarball = make_data_dir(tmp_path / "t", form="tarball")
    assert find_reviews(folder) == folder / "aclImdb"
    assert find_reviews(tarball) == tarball / "aclImdb_v1.tar.gz"
    assert find_word_index(folder) == folder / "imdb_word_index.json"


def test_environment_variable_names_the_data_folder_and_argument_wins(tmp_path, monkeypatch):
    env_folder = make_data_dir(tmp_path / "env")
    arg_folder = make_data_dir(tmp_path / "arg", form="tarball")
    monkeypatch.setenv("IMDB_LIGHTNING_DATA", str(env_folder))
    assert find_reviews() == env_folder / "aclImdb"
    assert find_reviews(arg_folder) == arg_folder / "aclImdb_v1.tar.gz"


def test_a_relative_data_folder_is_read_from_the_working_folder(tmp_path, monkeypatch):
    make_data_dir(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IMDB_LIGHTNING_DATA", "data")
    assert find_reviews() == tmp_path / "data" / "aclImdb"  # absolute: it holds when the folder changes


def test_a_relative_data_folder_named_in_the_shell_is_found_from_a_notebook_folder(tmp_path, monkeypatch):
    # Jupyter started in the project (the shell's $PWD); the kernel runs in the notebook's folder, docs/.
    make_data_dir(tmp_path / "shared" / "data")
    project = tmp_path / "project"
    (project / "docs").mkdir(parents=True)
    monkeypatch.chdir(project / "docs")
    monkeypatch.setenv("PWD", str(project))
    monkeypatch.setenv("IMDB_LIGHTNING_DATA", "../shared/data")
    assert find_reviews() == tmp_path / "shared" / "data" / "aclImdb"
    assert find_word_index() == tmp_path / "shared" / "data" / "imdb_word_index.json"


def test_a_missing_relative_data_folder_is_named_absolute_with_the_folders_it_was_read_from(
    tmp_path, monkeypatch
):
    (tmp_path / "docs").mkdir()
    monkeypatch.chdir(tmp_path / "docs")
    monkeypatch.setenv("PWD", str(tmp_path))
    with pytest.raises(DataError) as info:
        find_reviews("../nowhere")
    first = str(info.value).splitlines()[0]
    assert first == (
        f"the data folder {tmp_path / 'nowhere'} does not exist (data.data_dir or IMDB_LIGHTNING_DATA gave "
        f"../nowhere, looked up from the working folder {tmp_path / 'docs'} and the shell's {tmp_path})."
    )


def test_cache_folder_follows_its_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("IMDB_LIGHTNING_CACHE", str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere"


def test_missing_data_says_how_to_get_it():
    with pytest.raises(DataError) as info:
        find_reviews(download=False)
    message = str(info.value)
    for needed in ("IMDB_LIGHTNING_DATA", "data.data_dir", REVIEWS.url, WORD_INDEX.url):
        assert needed in message


def test_data_folder_without_reviews_or_word_index_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no IMDB reviews .* in the data folder"):
        find_reviews(tmp_path / "empty")
    with pytest.raises(DataError, match="no imdb_word_index.json in the data folder"):
        find_word_index(tmp_path / "empty")


def test_a_named_data_folder_never_triggers_a_download(tmp_path, monkeypatch):
    monkeypatch.setattr("imdb_lightning.data.sources.fetch", lambda *a, **k: pytest.fail("downloaded"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError):
        find_reviews(tmp_path / "empty", download=True)


class FakeResponse(io.BytesIO):
    def __init__(self, payload: bytes, length: int | None = None) -> None:
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload) if length is None else length)}


def serving(*payloads: bytes, lengths: tuple[int | None, ...] | None = None):
    calls = []

    def opener(url):
        i = len(calls)
        calls.append(url)
        return FakeResponse(
            payloads[min(i, len(payloads) - 1)],
            (lengths or (None,) * len(payloads))[min(i, len(payloads) - 1)],
        )

    return opener, calls


def source_for(payload: bytes) -> Download:
    return Download("https://example.invalid/files/data.bin", hashlib.md5(payload).hexdigest())


def test_download_is_verified_and_lands_in_the_cache(tmp_path):
    opener, calls = serving(b"payload")
    path = fetch(source_for(b"payload"), tmp_path, opener=opener)
    assert path == tmp_path / "data.bin" and path.read_bytes() == b"payload"
    assert len(calls) == 1
    assert list(tmp_path.iterdir()) == [path]


def test_checksum_mismatch_retries_once_then_fails_leaving_nothing(tmp_path):
    opener, calls = serving(b"garbage")
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch(source_for(b"payload"), tmp_path, opener=opener)
    assert len(calls) == 2
    assert list(tmp_path.iterdir()) == []


def test_checksum_mismatch_then_good_download_succeeds(tmp_path):
    opener, calls = serving(b"garbage", b"payload")
    assert fetch(source_for(b"payload"), tmp_path, opener=opener).read_bytes() == b"payload"
    assert len(calls) == 2


def test_interrupted_download_leaves_no_partial_file(tmp_path):
    opener, _ = serving(b"payl", lengths=(7,))  # the server promised 7 bytes and sent 4
    with pytest.raises(DataError, match="connection closed after 4 of 7 bytes"):
        fetch(source_for(b"payload"), tmp_path, opener=opener)
    assert list(tmp_path.iterdir()) == []


def test_network_failure_is_a_clear_error(tmp_path):
    def offline(url):
        raise urllib.error.URLError("no network")

    with pytest.raises(DataError, match="could not download .*no network"):
        fetch(source_for(b"x"), tmp_path, opener=offline)
    assert list(tmp_path.iterdir()) == []


def test_missing_files_are_downloaded_into_the_cache(monkeypatch, tmp_path):
    fetched: list[str] = []

    def fake_fetch(source, folder, **_):
        fetched.append(source.filename)
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / source.filename).write_bytes(b"x")
        return Path(folder) / source.filename

    monkeypatch.setattr("imdb_lightning.data.sources.fetch", fake_fetch)
    assert find_reviews() == cache_dir() / "aclImdb_v1.tar.gz"
    assert find_reviews() == cache_dir() / "aclImdb_v1.tar.gz"  # second time from the cache
    assert find_word_index() == cache_dir() / "imdb_word_index.json"
    assert fetched == ["aclImdb_v1.tar.gz", "imdb_word_index.json"]
