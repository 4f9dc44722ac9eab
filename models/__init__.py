"""Publishing fine-tuned checkpoints (``ocforge publish model``).

* :func:`ocforge.models.checkpoint.check_checkpoint` - validation before upload;
* :func:`ocforge.models.publish.publish_model` - model card, one commit, then a tag.
"""
