from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.cache import cache

# A person gets this many failed logins per address and username in the window, then waits.
LOGIN_FAILURES_ALLOWED = 10
LOGIN_WINDOW_SECONDS = 300


def _failure_key(request, username: str) -> str:
    return f"login-failures:{request.META.get('REMOTE_ADDR', '')}:{username.lower()}"


class LoginView(auth_views.LoginView):
    """Django's login with a brake on guessing: DRF's throttles do not cover this form."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        key = _failure_key(request, request.POST.get("username", ""))
        if cache.get(key, 0) >= LOGIN_FAILURES_ALLOWED:
            messages.error(request, "Too many failed attempts: wait a few minutes and retry.")
            return self.get(request, *args, **kwargs)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        key = _failure_key(self.request, self.request.POST.get("username", ""))
        cache.add(key, 0, LOGIN_WINDOW_SECONDS)
        cache.incr(key)
        return super().form_invalid(form)


class LogoutView(auth_views.LogoutView):
    """Logging out also closes the user's open board websockets: Django's logout alone would
    leave them streaming."""

    def post(self, request, *args, **kwargs):
        user_id = request.user.pk if request.user.is_authenticated else None
        response = super().post(request, *args, **kwargs)
        if user_id is not None:
            from boards.events import user_group
            from boards.publisher import send_message

            send_message(user_group(user_id), {"type": "session.closed"})
        return response
