"""Synthesis (the OpenCharacter method) on datatrove's InferenceRunner.

personas -> character profiles (``profile`` prompt, parsed and repaired) -> each question gets
``n`` characters (seeded assignment) -> OpenCharacter-R (rewrite the corpus answer in character)
and OpenCharacter-G (answer in character). Entry point: :func:`ocforge.builders.synthesis.run.synthesize`.
"""
