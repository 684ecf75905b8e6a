"""/healthz and /metrics."""


def test_healthz_reports_the_database(client, db):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"] in ("sqlite", "postgresql", "mysql")


def test_metrics_count_requests_by_route_and_status(client, db):
    client.get("/healthz")
    client.get("/api/v1/accounts/me")
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/plain")
    text = r.content.decode()
    assert 'databoard_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'status="401"' in text
    assert "databoard_http_request_duration_seconds_bucket" in text


def test_healthz_refuses_writes(client, db):
    assert client.post("/healthz").status_code == 405
