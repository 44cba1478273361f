import jwt


def issue(user_id):
    return jwt.encode({"sub": user_id}, "my-super-secret", algorithm="HS256")
