import os

PAYMENT_API_URL = os.environ.get("PAYMENT_API_URL", "http://payments.example.com/v1")
