from django.contrib import admin

from databoard.storage.models import Artifact


@admin.register(Artifact)
class ArtifactAdmin(admin.ModelAdmin):
    list_display = ("sha256", "size_bytes", "created_at")
    search_fields = ("sha256",)
    readonly_fields = ("sha256", "size_bytes", "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
