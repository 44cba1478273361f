import httpx
from fastapi import FastAPI

app = FastAPI()


@app.get("/preview")
async def preview(url: str):
    async with httpx.AsyncClient() as client:
        page = await client.get(url)
    return {"length": len(page.text)}
