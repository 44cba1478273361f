import requests


def rates():
    return requests.get("https://api.exchange-rates.example.com/latest", timeout=5).json()


def health():
    return requests.get("http://localhost:5000/health", timeout=5).ok
