from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts import selectors, services
from accounts.forms import FirstRunForm, InvitationSignUpForm
from accounts.models import User
from accounts.selectors import org_access
from kanban.exceptions import DomainError, Forbidden, InvalidInput, InvitationNotValid, NotFound
from kanban.publisher import send_message, user_group


class LoginView(auth_views.LoginView):
    """Django's login. Guessing is braked by the authentication backend (accounts.lockout),
    which every login path shares; this page only says so."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        # A fresh install has nobody to log in as: the page points to the first run instead.
        return {**super().get_context_data(**kwargs), "first_run": services.is_first_run()}

    def form_invalid(self, form):
        wait = getattr(self.request, "login_retry_after", None)
        if wait is not None:
            minutes = max(1, round(wait / 60))
            form.errors.clear()
            form.add_error(
                None,
                f"Too many failed attempts for this account: try again in {minutes} "
                f"minute{'s' if minutes != 1 else ''}.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_invalid(form)


class LogoutView(auth_views.LogoutView):
    """Logging out also closes the user's open board websockets: Django's logout alone would
    leave them streaming."""

    def post(self, request, *args, **kwargs):
        user_id = request.user.pk if request.user.is_authenticated else None
        response = super().post(request, *args, **kwargs)
        if user_id is not None:
            send_message(user_group(user_id), {"type": "session.closed"})
        return response


TOKEN_LIFETIMES = {"30": 30, "90": 90, "365": 365, "never": None}


@login_required
@require_http_methods(["GET", "POST"])
def tokens_page(request):
    """The user's API tokens: create one (its key shown on this answer only) and revoke them."""
    created_key = None
    if request.method == "POST":
        try:
            if request.POST.get("action") == "revoke":
                token_id = request.POST.get("token", "")
                if not token_id.isascii() or not token_id.isdigit():
                    raise NotFound("Token not found.")
                token = selectors.get_token_of_user(request.user, int(token_id))
                services.revoke_api_token(token, actor=request.user)
                messages.success(request, f"Token {token.prefix}… revoked: it no longer works.")
                return redirect("tokens")
            expires = request.POST.get("expires", "")
            if expires not in TOKEN_LIFETIMES:
                raise InvalidInput("Choose when the token expires.")
            days = TOKEN_LIFETIMES[expires]
            expires_at = timezone.now() + timedelta(days=days) if days else None
            name = request.POST.get("name", "").strip()[:100]
            token, created_key = services.create_api_token(
                user=request.user, name=name, expires_at=expires_at
            )
        except DomainError as error:
            messages.error(request, error.detail)
            return redirect("tokens")
    return render(
        request,
        "accounts/tokens.html",
        {
            "tokens": selectors.tokens_of_user(request.user),
            "created_key": created_key,
            "lifetimes": TOKEN_LIFETIMES,
            "now": timezone.now(),
        },
    )


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
                assert isinstance(request.user, User)  # an anonymous join was sent to log in
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


# The service's field names for the first run's form's.
_FIRST_RUN_FIELDS = {"password": "password1"}


@never_cache
@require_http_methods(["GET", "POST"])
def first_run_page(request: HttpRequest) -> HttpResponse:
    """A fresh install's first page: make the owner and the organisation (and a first team),
    then log in as that owner. Not found once anyone has an account."""
    if not services.is_first_run():
        raise Http404("Obeya is set up already.")
    form = FirstRunForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user, organization = services.set_up_first_owner(
                username=data["username"],
                password=data["password1"],
                email=data["email"],
                organization_name=data["organization_name"],
                team_name=data["team_name"],
            )
        except Forbidden as exc:  # someone else finished the first run a moment ago
            raise Http404("Obeya is set up already.") from exc
        except DomainError as exc:
            for field, errors in (exc.fields or {"": [exc.detail]}).items():
                name = _FIRST_RUN_FIELDS.get(field, field)
                form.add_error(name if name in form.fields else None, errors)
        else:
            login(request, user)
            messages.success(
                request, f"Welcome to Obeya. {organization.name} is yours: create its first board."
            )
            return redirect("org-new-board", slug=organization.slug)
    return render(
        request, "accounts/first_run.html", {"form": form}, status=400 if form.errors else 200
    )
