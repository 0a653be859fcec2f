from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.renderers import JSONRenderer

from accounts.urls import invitation_urlpatterns
from kanban import api

# JSON under /api/, Django's pages elsewhere (kanban.api).
handler400 = api.bad_request
handler403 = api.permission_denied
handler404 = api.not_found
handler500 = api.server_error


class SchemaView(SpectacularAPIView):
    """/api/schema/: YAML or JSON as asked, but its errors (?format=xml is a 404) in JSON like
    every API error, not in the schema's own YAML. (Not in kanban.api: drf-spectacular's views
    read the DRF settings, which name kanban.api's classes.)"""

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response


urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("invitations/", include(invitation_urlpatterns)),
    path("api/v1/", include("accounts.api.urls")),
    path("api/v1/", include("boards.api.urls")),
    path("api/v1/", include("boards.hooks.urls")),
    path("api/v1/", include("boards.kaizen.urls")),
    path("api/v1/", include("boards.customers.urls")),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script as a file (/api/docs/?script=), which the
    # Content-Security-Policy allows; the plain view inlines it. The template drops the inline
    # <style> that the policy would block.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api_docs.html"),
        name="api-docs",
    ),
    path("api/<path:rest>", api.not_found),
    path("", include("boards.urls")),
]
