from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

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
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/<path:rest>", api_not_found),
    path("", include("boards.urls")),
]
