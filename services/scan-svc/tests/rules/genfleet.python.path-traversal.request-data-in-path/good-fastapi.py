import os

from fastapi import FastAPI

app = FastAPI()


@app.get("/files/{name}")
def read_file(name: str):
    with open(os.path.join("/srv/files", os.path.basename(name))) as f:
        return {"content": f.read()}
