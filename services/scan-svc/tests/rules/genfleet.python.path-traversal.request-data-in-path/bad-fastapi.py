from fastapi import FastAPI
from fastapi.responses import FileResponse

app = FastAPI()


@app.get("/files/{name}")
def read_file(name: str):
    with open(f"/srv/files/{name}") as f:
        return {"content": f.read()}
