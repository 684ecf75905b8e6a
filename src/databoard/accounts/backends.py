"""Authentication backend: argon2-hashed passwords; deleted, rejected or pending users cannot sign in."""

from django.contrib.auth.backends import ModelBackend


class ApprovedUserBackend(ModelBackend):
    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and user.deleted_at is None and user.is_approved
