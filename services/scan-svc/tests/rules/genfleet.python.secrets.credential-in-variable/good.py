import os

DB_PASSWORD = os.environ.get("DB_PASSWORD", "")
PASSWORD_FIELD = "password"
