from genfleet_cli.main import app

app(prog_name="genfleet")
