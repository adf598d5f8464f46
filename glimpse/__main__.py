from glimpse.cli import app

app(prog_name="glimpse")
