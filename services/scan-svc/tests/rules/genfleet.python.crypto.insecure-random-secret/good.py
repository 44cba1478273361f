import random
import secrets


def new_api_key():
    api_key = secrets.token_urlsafe(32)
    backoff = random.random()
    return api_key, backoff
