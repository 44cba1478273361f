from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse

app = FastAPI()
PAGES = ("home", "profile")


@app.get("/login/done")
def done(request: Request, next: str = "home"):
    return RedirectResponse(request.url_for(next if next in PAGES else "home"))
