"""Signed, expiring download links served by the app."""

import io
import time

import pytest
from django.core import signing

from databoard.storage.links import SALT, signed_download_path, signed_download_url
from databoard.storage.store import ArtifactStore


@pytest.fixture
def stored(tmp_path, override_config):
    override_config(artifacts_url=str(tmp_path / "artifacts"), base_url="https://board.example.org")
    return ArtifactStore.from_config().put(io.BytesIO(b"col1,col2\n1,2\n"))


def test_signed_link_streams_the_file_with_safe_headers(client, db, stored):
    path = signed_download_path(sha256=stored.sha256, filename="data.csv", content_type="text/csv")
    r = client.get(path)
    assert r.status_code == 200
    assert b"".join(r.streaming_content) == b"col1,col2\n1,2\n"
    assert r["Content-Length"] == str(stored.size_bytes)
    assert r["Content-Disposition"] == 'attachment; filename="data.csv"'
    assert r["Content-Type"] == "text/csv"
    assert r["X-Content-Type-Options"] == "nosniff"


def test_absolute_link_uses_base_url(stored):
    url = signed_download_url(sha256=stored.sha256, filename="data.csv")
    assert url.startswith("https://board.example.org/storage/d/")


def test_unusual_file_names_are_encoded(client, db, stored):
    r = client.get(signed_download_path(sha256=stored.sha256, filename='ré"sult s.csv'))
    assert r.status_code == 200
    assert "filename*=utf-8''r%C3%A9%22sult%20s.csv" in r["Content-Disposition"]


def test_tampered_link_is_403(client, db, stored):
    path = signed_download_path(sha256=stored.sha256, filename="data.csv")
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    r = client.get(tampered)
    assert r.status_code == 403
    assert b"not valid" in r.content


def test_link_signed_for_another_file_cannot_be_rewritten(client, db, stored):
    token = signing.dumps({"s": stored.sha256, "n": "data.csv", "e": int(time.time()) + 60}, salt="other-salt")
    assert client.get(f"/storage/d/{token}").status_code == 403


def test_expired_link_is_410(client, db, stored):
    r = client.get(signed_download_path(sha256=stored.sha256, filename="data.csv", ttl_seconds=-1))
    assert r.status_code == 410
    assert b"expired" in r.content


def test_link_to_a_missing_blob_is_404(client, db, stored):
    r = client.get(signed_download_path(sha256="f" * 64, filename="gone.bin"))
    assert r.status_code == 404


def test_link_with_a_path_in_the_name_is_403(client, db, stored):
    token = signing.dumps({"s": stored.sha256, "n": "../../etc/passwd", "e": int(time.time()) + 60}, salt=SALT,
                          compress=True)
    assert client.get(f"/storage/d/{token}").status_code == 403


def test_link_refuses_writes(client, db, stored):
    path = signed_download_path(sha256=stored.sha256, filename="data.csv")
    assert client.post(path).status_code == 405
