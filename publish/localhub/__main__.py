"""``python -m ocforge.publish.localhub serve --root DIR``."""

from .cli import hub_app

if __name__ == "__main__":
    hub_app(prog_name="python -m ocforge.publish.localhub")
