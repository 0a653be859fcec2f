from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts import selectors, services
from kanban.exceptions import DomainError, InvalidInput, NotFound


class LoginView(auth_views.LoginView):
    """Django's login. Guessing is braked by the authentication backend (accounts.lockout),
    which every login path shares; this page only says so."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

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
            from boards.events import user_group
            from boards.publisher import send_message

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
            days = TOKEN_LIFETIMES.get(request.POST.get("expires", ""), "unknown")
            if days == "unknown":
                raise InvalidInput("Choose when the token expires.")
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
