"""OpenAPI description of the token authentication, so that the schema and the docs' Authorize
button offer `Authorization: Token <key>` (drf-spectacular registers extensions on import)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Token-based authentication: "Token <key>" (POST /api/v1/auth/token/).',
        }
