"""The API's routes, one module per area; each `register(app, ctx)` adds its routes."""
