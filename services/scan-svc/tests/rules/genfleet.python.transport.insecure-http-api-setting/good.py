import os

PAYMENT_API_URL = os.environ.get("PAYMENT_API_URL", "https://payments.example.com/v1")
BACKEND_URL = os.environ.get("BACKEND_URL", "http://backend:5000")
