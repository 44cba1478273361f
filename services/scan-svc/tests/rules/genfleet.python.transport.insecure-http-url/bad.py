import requests


def rates():
    return requests.get("http://api.exchange-rates.example.com/latest", timeout=5).json()
