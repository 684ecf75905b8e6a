"""Engine figures for ``/metrics``, read from the database when scraped (so every web process agrees): the
queue per queue and state, the oldest wait, workers by status, finished submissions by state and failing
step, and a histogram of run durations."""

from __future__ import annotations

from django.db.models import Count, Q, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

DURATION_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class EngineCollector:
    """A prometheus_client collector (registered once, on the web's registry)."""

    def describe(self):
        return []  # nothing is read at registration

    def collect(self):
        from databoard.challenges.models import Submission, Worker
        from databoard.challenges.selectors import queue_summary, worker_statuses

        queued = GaugeMetricFamily("databoard_queue_submissions", "Submissions waiting or training, per queue.",
                                   labels=["queue", "state"])
        oldest = GaugeMetricFamily("databoard_queue_oldest_wait_seconds",
                                   "How long the oldest queued submission has waited, per queue.", labels=["queue"])
        for row in queue_summary():
            queued.add_metric([row["queue"], "queued"], row["queued"])
            queued.add_metric([row["queue"], "training"], row["training"])
            oldest.add_metric([row["queue"]], row["oldest_wait_s"])
        yield queued
        yield oldest

        workers = GaugeMetricFamily("databoard_workers", "Workers by status, backend and sandbox.",
                                    labels=["status", "backend", "sandbox"])
        for (status, backend, sandboxed), count in sorted(worker_statuses(Worker.objects.all()).items()):
            workers.add_metric([status, backend, "on" if sandboxed else "off"], count)
        yield workers

        finished = CounterMetricFamily("databoard_submissions_finished", "Submissions that ended, by state and "
                                       "failing step (re-runs count once, as they stand now).",
                                       labels=["state", "step"])
        rows = (Submission.objects.filter(state__in=[Submission.State.SCORED, Submission.State.ERROR])
                .values("state", "error_step").annotate(n=Count("id")).order_by())
        for row in rows:
            finished.add_metric([row["state"], row["error_step"] or ""], row["n"])
        yield finished

        scored = Submission.objects.filter(state=Submission.State.SCORED, duration_seconds__isnull=False)
        figures = scored.aggregate(total=Count("id"), seconds=Sum("duration_seconds"),
                                   **{f"le_{b}": Count("id", filter=Q(duration_seconds__lte=b))
                                      for b in DURATION_BUCKETS})
        buckets = [(str(float(b)), figures[f"le_{b}"]) for b in DURATION_BUCKETS]
        buckets.append(("+Inf", figures["total"]))
        duration = HistogramMetricFamily("databoard_submission_duration_seconds",
                                         "ramp-test run time of scored submissions.")
        duration.add_metric([], buckets, figures["seconds"] or 0.0)
        yield duration
