from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts import selectors, services
from accounts.forms import InvitationSignUpForm
from accounts.selectors import org_access
from kanban.exceptions import DomainError, InvitationNotValid

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


# The service's field names for the sign-up form's.
_SIGN_UP_FIELDS = {"username": "username", "password": "password1"}


def _invalid_invitation(request) -> HttpResponse:
    return render(request, "accounts/invitation_invalid.html", status=404)


@never_cache  # the page is reached by a secret link: no cache keeps a copy of it
@require_http_methods(["GET", "POST"])
def invitation_page(request: HttpRequest, key: str) -> HttpResponse:
    """An invitation's page: who invites whom to what. Logged in, one button joins; otherwise
    log in first (and come back here), or create an account that joins at once."""
    try:
        invitation = selectors.get_pending_invitation(key)
    except InvitationNotValid:
        return _invalid_invitation(request)
    organization = invitation.organization
    form = InvitationSignUpForm()
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "join" and not request.user.is_authenticated:
            return redirect(f"{reverse('login')}?{urlencode({'next': request.path})}")
        try:
            if action == "join":
                services.accept_invitation(key, actor=request.user)
                messages.success(request, f"Welcome to {organization.name}.")
                return redirect("org-overview", slug=organization.slug)
            if action == "sign-up" and request.user.is_authenticated:
                messages.error(request, "You are logged in: join with this account, or log out.")
            elif action == "sign-up":
                form = InvitationSignUpForm(request.POST)
                if form.is_valid():
                    membership = services.sign_up_with_invitation(
                        key,
                        username=form.cleaned_data["username"],
                        password=form.cleaned_data["password1"],
                    )
                    login(request, membership.user)
                    messages.success(request, f"Welcome to {organization.name}.")
                    return redirect("org-overview", slug=organization.slug)
        except InvitationNotValid:  # used or revoked since the page was read
            return _invalid_invitation(request)
        except DomainError as exc:
            for field, errors in (exc.fields or {"": [exc.detail]}).items():
                form.add_error(_SIGN_UP_FIELDS.get(field), errors)
    current_role = (
        org_access(request.user, organization.pk).role if request.user.is_authenticated else None
    )
    return render(
        request,
        "accounts/invitation.html",
        {
            "invitation": invitation,
            # Not `organization`: the header would offer to search one the user is not in.
            "invited_to": organization,
            "current_role": current_role,
            "form": form,
            "login_url": f"{reverse('login')}?{urlencode({'next': request.path})}",
        },
        status=400 if form.errors else 200,
    )
