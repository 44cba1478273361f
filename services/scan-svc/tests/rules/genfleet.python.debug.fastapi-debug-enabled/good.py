import os

from fastapi import FastAPI

app = FastAPI(title="shop", debug=os.environ.get("DEBUG") == "1")
