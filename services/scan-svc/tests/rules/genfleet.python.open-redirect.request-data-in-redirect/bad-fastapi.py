from fastapi import FastAPI
from fastapi.responses import RedirectResponse

app = FastAPI()


@app.get("/login/done")
def done(next: str = "/"):
    return RedirectResponse(next)
