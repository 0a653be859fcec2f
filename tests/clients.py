"""API clients for the permission matrices: who calls, by the name of a `world` user."""


def client_for(who: str, world, api):
    """An API client for one of the world's users, or with no or a wrong token."""
    if who == "anonymous":
        return api(None)
    if who == "bad_token":
        client = api(None)
        client.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
        return client
    return api(getattr(world, who))
