"""Fine-tuning on a dataset release: ``ocforge train sft`` on TRL's ``SFTTrainer``.

* :mod:`.recipe`: the training recipe (YAML, validated with file:line errors);
* :mod:`.release_ref`: ``ORG/NAME@vX.Y.Z`` resolved to the commit, and :mod:`.fetch` that loads
  the release's ``train`` split at that commit (in a child process, as consumers load it);
* :mod:`.data`: the data mix (configs, source corpora) and the rows truncation leaves without an
  assistant token, counted before training;
* :mod:`.template`: a chat template with ``{% generation %}`` markers (assistant-only loss);
* :mod:`.sft`: the run (fresh or ``--resume``), :mod:`.progress` its progress bar, and
  :mod:`.manifest` the checkpoint's ``training.json``.
"""
