"""Publishing fine-tuned checkpoints (``ocforge publish model``).

* :func:`ocforge.publish.models.checkpoint.check_checkpoint` - validation before upload;
* :func:`ocforge.publish.models.publish.publish_model` - model card, one commit, then a tag.
"""
