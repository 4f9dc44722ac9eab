from ocforge.cli import app

app(prog_name="ocforge")
