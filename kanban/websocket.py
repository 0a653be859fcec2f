from channels.security.websocket import OriginValidator
from django.conf import settings


class BrowserOriginValidator(OriginValidator):
    """Refuse websockets opened by pages of other sites (cross-site websocket hijacking).

    Browsers always send Origin on a websocket handshake, so that is where the check matters;
    a script (token auth, no Origin) is no browser and cannot be tricked into riding a cookie.
    Channels' AllowedHostsOriginValidator refuses a missing Origin, which would lock scripts out.
    """

    def valid_origin(self, parsed_origin):
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)


def origin_checked(application):
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = ["localhost", "127.0.0.1", "[::1]"]
    return BrowserOriginValidator(application, allowed)
