from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.urls import invitation_urlpatterns


def api_not_found(request, exception=None, rest: str = ""):
    return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("invitations/", include(invitation_urlpatterns)),
    path("api/v1/", include("accounts.api.urls")),
    path("api/v1/", include("boards.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script as a file (/api/docs/?script=), which the
    # Content-Security-Policy allows; the plain view inlines it. The template drops the inline
    # <style> that the policy would block.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api_docs.html"),
        name="api-docs",
    ),
    path("api/<path:rest>", api_not_found),
    path("", include("boards.urls")),
]
