import random
import string


def new_api_key():
    api_key = "".join(random.choices(string.ascii_letters, k=32))
    return api_key
