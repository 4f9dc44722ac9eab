"""Bundled defaults and the demo, shipped as package data (see ``ocforge.recipe.CONFIGS_DIR``)."""
