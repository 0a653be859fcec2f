from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from accounts import lockout


class LockoutModelBackend(ModelBackend):
    """Django's username and password check, behind the lockout of accounts.lockout.

    Every login path authenticates through here (the login form, the admin's login, the API's
    token endpoint), so none of them can be used to guess around the others. A locked-out
    attempt raises PermissionDenied, which makes django.contrib.auth.authenticate() answer
    None at once; the request carries `login_retry_after` (seconds) for the view to say so.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        wait = lockout.retry_after(request, username)
        if wait is not None:
            if request is not None:
                request.login_retry_after = wait
            raise PermissionDenied("Too many failed logins.")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            lockout.record_failure(request, username)
        else:
            lockout.record_success(request, username)
        return user
