"""ocforge: build, curate and publish synthetic role-play datasets (the OpenCharacter method)."""

__version__ = "0.1.0"
