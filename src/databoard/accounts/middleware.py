"""Sessions of users who were deleted, disabled or un-approved since they signed in end at once."""

from django.contrib.auth import logout


class ActiveUserMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and (
                not user.is_active or user.deleted_at is not None or not user.is_approved):
            logout(request)
        return self.get_response(request)


#: WSGI environ key set only by the in-process client transport (never reachable over HTTP,
#: where headers arrive as HTTP_*): the username the local CLI acts as.
LOCAL_USER_ENVIRON_KEY = "databoard.local_user"


class LocalClientMiddleware:
    """Requests from the in-process client act as the local user it names (see databoard.client)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        username = request.META.get(LOCAL_USER_ENVIRON_KEY)
        if username:
            from databoard.accounts.models import User

            user = User.objects.filter(username=username, is_active=True, deleted_at__isnull=True).first()
            if user is not None:
                request.user = user
                request.is_local_client = True
                request._dont_enforce_csrf_checks = True
        return self.get_response(request)
