import hashlib


def signature(body):
    return hashlib.md5(body).hexdigest()
