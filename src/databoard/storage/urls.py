from django.urls import path

from databoard.storage import views

app_name = "storage"

urlpatterns = [
    path("d/<str:token>", views.download, name="download"),
]
