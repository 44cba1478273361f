SIGNING_KEY_PATH = "/run/secrets/signing.pem"
