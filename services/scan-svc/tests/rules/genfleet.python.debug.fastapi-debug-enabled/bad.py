from fastapi import FastAPI

app = FastAPI(title="shop", debug=True)
