"""``ocforge eval judge``: PersonaGym-style judged evaluation (PersonaGym-Light and full).

* :func:`~ocforge.evals.judge.flow.prepare_release` - once per release: questions per dimension
  and per-score example answers for its held-out characters, frozen and pinned to the release;
* :func:`~ocforge.evals.judge.flow.judge_model` - per model: answers in character, one rubric per
  judge call, lm-eval-shaped results and every verdict;
* :func:`~ocforge.evals.judge.flow.push_judge_results` - the results on the model card.

The prompts, rubrics, protocols and sampling are data: ``configs/judge/*.yaml``.
"""
