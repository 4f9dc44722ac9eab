"""lm-eval tasks built from a dataset release, runs, and results on model cards (``ocforge eval``).

* :func:`ocforge.evals.configs.write_eval_configs` - eval-ready configs
  (``eval_character_choice``, ``eval_dialogues``) from a build folder's ``test`` split;
* :func:`ocforge.evals.register.register_tasks` - an lm-eval task group pinned to a
  release commit;
* :func:`ocforge.evals.run.run_eval` / :func:`~ocforge.evals.run.push_results` -
  ``lm_eval.simple_evaluate`` and the model card's ``model-index``.
"""
