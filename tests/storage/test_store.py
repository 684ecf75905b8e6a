"""The artifact store on two fsspec filesystems: a local folder and memory://."""

import hashlib
import io
import uuid

import fsspec
import pytest

from databoard.errors import NotFound, TooLarge, ValidationFailed
from databoard.storage.models import Artifact
from databoard.storage.services import artifact_store
from databoard.storage.store import ArtifactStore, safe_filename


@pytest.fixture(params=["local", "memory"])
def store(request, tmp_path):
    if request.param == "local":
        yield ArtifactStore(str(tmp_path / "artifacts"))
    else:
        url = f"memory://databoard-{uuid.uuid4().hex}"
        yield ArtifactStore(url)
        fs = fsspec.filesystem("memory")
        if fs.exists(url):
            fs.rm(url, recursive=True)


def _all_files(store: ArtifactStore) -> list[str]:
    if not store.fs.exists(store.root):
        return []
    return [p for p in store.fs.find(store.root)]


def test_round_trip_and_address(store):
    data = b"hello artifacts\n" * 1000
    blob = store.put(io.BytesIO(data))
    assert blob.sha256 == hashlib.sha256(data).hexdigest()
    assert blob.size_bytes == len(data)
    assert store.exists(blob.sha256) and store.size(blob.sha256) == len(data)
    with store.open(blob.sha256) as handle:
        assert handle.read() == data
    assert b"".join(store.iter_chunks(blob.sha256, chunk_bytes=1000)) == data
    assert store.path(blob.sha256).endswith(f"sha256/{blob.sha256[:2]}/{blob.sha256[2:4]}/{blob.sha256}")


def test_same_content_is_stored_once(store):
    first = store.put(io.BytesIO(b"same"))
    second = store.put(io.BytesIO(b"same"))
    assert first == second
    blobs = [p for p in _all_files(store) if "/sha256/" in p]
    assert len(blobs) == 1
    assert not [p for p in _all_files(store) if p.startswith(f"{store.root}/tmp/")]


def test_size_limit_hit_mid_stream_leaves_nothing(store):
    with pytest.raises(TooLarge, match="over the 1 KB limit"):
        store.put(io.BytesIO(b"x" * 5000), max_bytes=1024)
    assert _all_files(store) == []


def test_limit_defaults_to_config(store, override_config):
    override_config(max_upload_bytes=100)
    with pytest.raises(TooLarge):
        store.put(io.BytesIO(b"y" * 101))
    assert store.put(io.BytesIO(b"y" * 100)).size_bytes == 100


class CountingStream(io.RawIOBase):
    """A 50 MB stream made on the fly that records the largest read asked of it."""

    def __init__(self, total: int):
        self.left, self.largest = total, 0

    def readable(self):
        return True

    def read(self, n=-1):
        if n is None or n < 0:
            raise AssertionError("the store asked for the whole stream at once")
        self.largest = max(self.largest, n)
        n = min(n, self.left)
        self.left -= n
        return b"z" * n


def test_large_stream_is_copied_in_chunks(tmp_path):
    store = ArtifactStore(str(tmp_path / "a"))
    stream = CountingStream(50 * 1024 * 1024)
    blob = store.put(stream, max_bytes=100 * 1024 * 1024)
    assert blob.size_bytes == 50 * 1024 * 1024
    assert stream.largest <= 1024 * 1024


@pytest.mark.parametrize("bad", ["../../etc/passwd", "A" * 64, "abc", "g" * 64, "", "0" * 63 + "/"])
def test_bad_digests_are_refused(store, bad):
    with pytest.raises(ValidationFailed, match="sha256"):
        store.open(bad)
    with pytest.raises(ValidationFailed):
        store.exists(bad)


def test_missing_blob_is_not_found(store):
    with pytest.raises(NotFound):
        store.open("0" * 64)
    assert store.delete("0" * 64) is False


def test_delete_removes_the_blob(store):
    blob = store.put(io.BytesIO(b"bye"))
    assert store.delete(blob.sha256) is True
    assert not store.exists(blob.sha256)


@pytest.mark.parametrize("name, fragment", [
    ("..", "not a file name"),
    (".", "not a file name"),
    ("../x", "is a path"),
    ("/etc/passwd", "is a path"),
    ("a/b", "is a path"),
    ("a\\b", "is a path"),
    ("a\x00b", "control characters"),
    ("x" * 300, "longer than 255 bytes"),
    ("é" * 200, "longer than 255 bytes"),
    ("", "empty"),
    ("   ", "empty"),
])
def test_safe_filename_refuses_garbage(name, fragment):
    with pytest.raises(ValidationFailed, match=fragment):
        safe_filename(name)


@pytest.mark.parametrize("name", ["model.py", "données 2024.csv", "a..b.txt", ".hidden"])
def test_safe_filename_keeps_plain_names(name):
    assert safe_filename(name) == name


def test_artifact_service_records_one_row_per_content(db, store):
    a = artifact_store(stream=io.BytesIO(b"kit"), store=store)
    b = artifact_store(stream=io.BytesIO(b"kit"), store=store)
    assert a.pk == b.pk and a.size_bytes == 3
    assert Artifact.objects.count() == 1


def test_artifact_service_too_large_writes_no_row(db, store):
    with pytest.raises(TooLarge):
        artifact_store(stream=io.BytesIO(b"k" * 10), store=store, max_bytes=5)
    assert not Artifact.objects.exists()
    assert _all_files(store) == []


def test_bad_store_url_is_a_clear_error():
    from databoard.storage.store import StorageError

    with pytest.raises(StorageError, match="cannot be used"):
        ArtifactStore("nosuchprotocol://bucket/x")
