"""`python -m services.cli`: how `partnerpulse up` starts each service."""

from services.cli import app

app()
