"""Web pages of the challenges: problems, events, the sandbox, submissions, leaderboards, dashboards, workers."""

from django.urls import path

from databoard.challenges import views

app_name = "challenges"

urlpatterns = [
    path("problems/", views.problem_list, name="problem_list"),
    path("problems/import/", views.problem_import, name="problem_import"),
    path("problems/<str:name>/", views.problem_detail, name="problem_detail"),
    path("problems/<str:name>/starting-kit.zip", views.problem_starting_kit, name="problem_starting_kit"),
    path("events/", views.event_list, name="event_list"),
    path("events/new/", views.event_create, name="event_create"),
    path("events/<str:slug>/", views.event_detail, name="event_detail"),
    path("events/<str:slug>/edit/", views.event_edit, name="event_edit"),
    path("events/<str:slug>/signup/", views.event_signup, name="event_signup"),
    path("events/<str:slug>/sandbox/", views.sandbox, name="sandbox"),
    path("events/<str:slug>/leaderboard/", views.leaderboard, name="leaderboard"),
    path("events/<str:slug>/dashboard/", views.dashboard, name="dashboard"),
    path("events/<str:slug>/rerun-failed/", views.event_rerun_failed, name="event_rerun_failed"),
    path("submissions/<int:pk>/", views.submission_detail, name="submission_detail"),
    path("submissions/<int:pk>/state/", views.submission_state, name="submission_state"),
    path("submissions/<int:pk>/rerun/", views.submission_rerun, name="submission_rerun"),
    path("submissions/<int:pk>/cancel/", views.submission_cancel, name="submission_cancel"),
    path("submissions/<int:pk>/priority/", views.submission_priority, name="submission_priority"),
    path("workers/", views.workers, name="workers"),
]
