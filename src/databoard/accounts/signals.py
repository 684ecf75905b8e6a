"""Audit receivers for what happens outside our services: session sign-in/out and Django admin actions."""

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_save
from django.dispatch import receiver

from databoard.accounts.services import audit_record
from databoard.web.request import client_ip


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    audit_record(action="login.ok", actor=user, ip=client_ip(request) if request else None)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(action="logout", actor=user, ip=client_ip(request) if request else None)


@receiver(post_save, sender=LogEntry)
def _admin_action(sender, instance: LogEntry, created: bool, **kwargs):
    if not created:
        return
    kind = {ADDITION: "add", CHANGE: "change", DELETION: "delete"}.get(
        instance.action_flag, "other")
    event = audit_record(action=f"admin.{kind}", actor=instance.user,
                         model=instance.content_type.model if instance.content_type_id else "",
                         object=instance.object_repr[:200], change=instance.get_change_message()[:500])
    event.target_type = instance.content_type.model if instance.content_type_id else ""
    event.target_id = str(instance.object_id or "")[:64]
    event.target_repr = instance.object_repr[:200]
    event.save(update_fields=["target_type", "target_id", "target_repr"])
