import os

AWS_KEY_ID = os.environ["AWS_ACCESS_KEY_ID"]
